#!/usr/bin/env python3
"""Host tests of scripts/guest-report.py: the judge of every guest run must
itself be able to say no.  TAP output."""
import os
import subprocess
import sys
import tempfile

from tap import case, main

REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "..", "..", "scripts", "guest-report.py")

GOOD_RESULTS = """SVMGPU-READY 2.5
# SVMGPU-PROGRAM alpha
TAP version 13
1..2
ok 1 first
ok 2 second # SKIP no hugepages
# SVMGPU-EXIT alpha 0 3.0 3.5
SVMGPU-DONE 0
"""
QUIET_CONSOLE = "[    0.000000] Linux version 6.1\n[    1.0] rcu: RCU lockdep checking is enabled.\n" \
    "[    2.4] DMA-API: preallocated 65536 debug entries\n"


def run(results, console, files=None):
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/results.log", "w") as f:
            f.write(results)
        with open(f"{d}/console.log", "w") as f:
            f.write(console)
        for name, text in (files or {}).items():
            with open(f"{d}/{name}", "w") as f:
                f.write(text)
        out = subprocess.run([sys.executable, REPORT, d, "t"], capture_output=True,
                             text=True, check=True).stdout
    counts = [l for l in out.splitlines() if l.startswith("SVMGPU-COUNTS")][-1]
    return tuple(int(x) for x in counts.split()[1:]), out


@case
def clean_run_passes():
    (p, f, s), _ = run(GOOD_RESULTS, QUIET_CONSOLE)
    return f == 0 and p == 4 and s == 1


@case
def kernel_warning_fails_a_green_run():
    (p, f, s), out = run(GOOD_RESULTS, QUIET_CONSOLE +
                         "[    5.0] WARNING: CPU: 0 PID: 1 at mm/hmm.c:100 foo\n")
    return f == 1 and "not ok" in out


@case
def each_splat_kind_is_caught():
    lines = ["BUG: KASAN: use-after-free in svmgpu_fault",
             "WARNING: possible circular locking dependency detected",
             "general protection fault, probably for non-canonical address",
             "INFO: task kworker/0:1:12 blocked for more than 120 seconds.",
             "watchdog: BUG: soft lockup - CPU#0 stuck for 22s!",
             "BUG: sleeping function called from invalid context",
             "Oops: 0000 [#1] PREEMPT SMP",
             "UBSAN: shift-out-of-bounds in drivers/x.c:1:2",
             "Kernel panic - not syncing: Fatal exception",
             "mm/pgtable-generic.c:53: bad pmd 00000000b5a3e1c2(8000000140000ee7)",
             "BUG: Bad rss-counter state mm:0000000012345678 type:MM_FILEPAGES val:-512"]
    for l in lines:
        (p, f, s), _ = run(GOOD_RESULTS, QUIET_CONSOLE + "[ 9.0] " + l + "\n")
        if f != 1:
            print(f"# missed: {l}")
            return False
    return True


CRASHED_RESULTS = GOOD_RESULTS.split("# SVMGPU-EXIT")[0] + "# RUN beta\n"
CRASH_TXT = """Program terminated with signal SIGSEGV, Segmentation fault.
== crashing thread
#0  0x000055d1 in svmgpu_dma_locked (s=0x5, addr=4096) at ../qemu-src/hw/misc/svmgpu-pci.c:212
#1  svmgpu_dma (s=0x5) at ../qemu-src/hw/misc/svmgpu-pci.c:240
== all threads
Thread 1 (LWP 7):
#0  0x1 in main ()
"""


@case
def qemu_crash_is_reported_with_its_frames():
    (p, f, s), out = run(CRASHED_RESULTS, QUIET_CONSOLE,
                         {"qemu.log": "qemu-exit 139\naccel tcg\n", "qemu-crash.txt": CRASH_TXT})
    want = ["# t: crash: QEMU died of signal 11",
            "# t: crash: #0 svmgpu_dma_locked at ../qemu-src/hw/misc/svmgpu-pci.c:212",
            "# t: crash: #1 svmgpu_dma at ../qemu-src/hw/misc/svmgpu-pci.c:240"]
    lines = out.splitlines()
    return f >= 1 and all(w in lines for w in want) and "main ()" not in out


@case
def qemu_crash_without_core_says_so_and_a_kill_is_no_crash():
    _, out = run(CRASHED_RESULTS, QUIET_CONSOLE, {"qemu.log": "qemu-exit 134\n"})
    _, killed = run(CRASHED_RESULTS, QUIET_CONSOLE, {"qemu.log": "qemu-exit 137\n"})
    return ("crash: QEMU died of signal 6" in out and "no backtrace" in out and
            "crash:" not in killed)


@case
def qemu_crash_after_a_finished_run_fails():
    """Every test passed and the guest said DONE; QEMU then died of SIGSEGV
    (its poweroff: a device reset, an unrealize): the run fails."""
    (p, f, s), out = run(GOOD_RESULTS, QUIET_CONSOLE, {"qemu.log": "qemu-exit 139\n"})
    (_, f_killed, _), _ = run(GOOD_RESULTS, QUIET_CONSOLE, {"qemu.log": "qemu-exit 137\n"})
    return (f == 1 and "not ok 5 - t: QEMU did not crash (QEMU died of signal 11)" in out
            and f_killed == 0)


@case
def empty_console_is_no_clean_kernel_log():
    """A console.log with no kernel log (serial miswired, a kernel that
    never ran) proves nothing: the run fails."""
    (p, f, s), out = run(GOOD_RESULTS, "")
    return f == 1 and "console.log has no kernel log" in out


ASAN_LOG = """accel tcg
=================================================================
==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x6110 at pc 0x55 bp 0x7f sp 0x7f
WRITE of size 8 at 0x6110 thread T5
    #0 0x55d1 in svmgpu_core_reset ../qemu-src/hw/svmgpu/core/core.c:120
    #1 0x55d2 in svmgpu_flr ../qemu-src/hw/svmgpu/svmgpu-pci.c:900

0x6110 is located 16 bytes inside of 200-byte region
freed by thread T0 here:
    #0 0x1 in free
qemu-exit 134
"""


@case
def asan_report_is_the_crash_summary():
    (p, f, s), out = run(CRASHED_RESULTS, QUIET_CONSOLE, {"qemu.log": ASAN_LOG})
    want = ["# t: crash: QEMU died of signal 6",
            "# t: crash: ==4242==ERROR: AddressSanitizer: heap-use-after-free on address "
            "0x6110 at pc 0x55 bp 0x7f sp 0x7f",
            "# t: crash: #0 svmgpu_core_reset ../qemu-src/hw/svmgpu/core/core.c:120",
            "# t: crash: #1 svmgpu_flr ../qemu-src/hw/svmgpu/svmgpu-pci.c:900"]
    lines = out.splitlines()
    return f >= 1 and all(w in lines for w in want) and "in free" not in out


@case
def guest_that_never_finishes_fails():
    partial = GOOD_RESULTS.split("# SVMGPU-EXIT")[0]
    (p, f, s), _ = run(partial, QUIET_CONSOLE)
    return f >= 2  # the program never finished, the run never completed


@case
def program_killed_after_passing_tests_fails():
    (p, f, s), _ = run(GOOD_RESULTS.replace("alpha 0 3.0", "alpha 137 3.0"), QUIET_CONSOLE)
    return f == 1


@case
def program_stuck_after_sigkill_fails_and_says_so():
    r = GOOD_RESULTS.replace("# SVMGPU-EXIT alpha 0 3.0",
                             "# SVMGPU-STUCK alpha: still there 30s after its 120s timeout\n"
                             "# SVMGPU-EXIT alpha 254 3.0")
    (p, f, s), out = run(r, QUIET_CONSOLE)
    return f == 1 and "stuck in the kernel" in out


@case
def program_with_no_test_fails():
    r = "SVMGPU-READY 1\n# SVMGPU-PROGRAM beta\n# SVMGPU-EXIT beta 0 1 2\nSVMGPU-DONE 0\n"
    (p, f, s), _ = run(r, QUIET_CONSOLE)
    return f == 1


@case
def missing_render_node_fails():
    (p, f, s), _ = run(GOOD_RESULTS.replace("SVMGPU-READY 2.5", "SVMGPU-NO-DEVICE 12"),
                       QUIET_CONSOLE)
    return f == 1


@case
def failed_test_case_is_counted_once():
    (p, f, s), _ = run(GOOD_RESULTS.replace("ok 1 first", "not ok 1 first")
                       .replace("alpha 0 3.0", "alpha 1 3.0"), QUIET_CONSOLE)
    return f == 1


OOPS = """[   32.738070] BUG: kernel NULL pointer dereference, address: 0000000000000054
[   32.738500] #PF: supervisor read access in kernel mode
[   32.739381] Oops: 0000 [#1] PREEMPT SMP NOPTI
[   32.739400] CPU: 1 PID: 165 Comm: kworker/u4:3 Tainted: G OE 6.1.0-57-amd64 #1
[   32.739500] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009)
[   32.739600] Workqueue: svmgpu svmgpu_fault_work [svmgpu]
[   32.739700] RIP: 0010:svmgpu_fault_work+0x305/0x5b0 [svmgpu]
[   32.739800] Code: 48 8b 45 00 00
[   32.739900] RSP: 0018:ffffa0c1c0263e00 EFLAGS: 00010246
[   32.740000] Call Trace:
[   32.740100]  <TASK>
[   32.740200]  ? __die+0x23/0x70
[   32.740300]  process_one_work+0x1c7/0x380
[   32.740400]  worker_thread+0x4d/0x380
[   32.740500]  </TASK>
[   32.740600] Modules linked in: svmgpu(OE)
[   32.740700] CR2: 0000000000000054
[   32.740800] ---[ end trace 0000000000000000 ]---
"""


@case
def first_splat_shows_where_it_happened():
    (p, f, s), out = run(GOOD_RESULTS, QUIET_CONSOLE + OOPS)
    detail = out[out.index("the first one:"):].splitlines()
    want = ["Workqueue: svmgpu svmgpu_fault_work [svmgpu]",
            "RIP: 0010:svmgpu_fault_work+0x305/0x5b0 [svmgpu]",
            "? __die+0x23/0x70", "process_one_work+0x1c7/0x380",
            "worker_thread+0x4d/0x380"]
    return (f == 1 and all(any(w in l for l in detail) for w in want)
            and not any("Code:" in l or "Modules linked" in l or "CR2" in l for l in detail))


if __name__ == "__main__":
    main()
