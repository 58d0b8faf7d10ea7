#!/usr/bin/env python3
"""Host tests of images/guest-tests.sh, the in-guest runner, under Debian's
busybox (the guest's shell): a program's processes end with it, and the
per-test timeout kills its whole session, the process groups its children
made (the test harness's setpgid) included.  TAP output."""
import os
import shutil
import subprocess
import tempfile
import time

from tap import case, main

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "..", "..", "images", "guest-tests.sh")
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def alive(pid):
    """Any thread of @pid not a zombie."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                if f.read().split(") ", 1)[1].split()[0] != "Z":
                    return True
        except OSError:
            pass
    return False


def run(programs, timeout_s=3, setup=None, only=None):
    """Run the runner over @programs ({name: shell script}); return its
    output and the pids each program's children wrote to $PIDS.  @setup(d)
    prepares the temporary directory first: $d/params stands for the module
    parameters, $d/dri for debugfs' DRM minors."""
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(f"{d}/t")
        os.mkdir(f"{d}/params")
        os.mkdir(f"{d}/dri")
        if setup:
            setup(d)
        for name, body in programs.items():
            with open(f"{d}/t/{name}", "w") as f:
                f.write("#!" + BUSYBOX + " sh\n" + body)
            os.chmod(f"{d}/t/{name}", 0o755)
        env = dict(os.environ, SVMGPU_TEST_DIR=f"{d}/t", SVMGPU_UNLOAD="0",
                   SVMGPU_PARAMS_DIR=f"{d}/params", SVMGPU_DRI_DEBUGFS=f"{d}/dri",
                   PIDS=f"{d}/pids", D=d)
        out = subprocess.run([BUSYBOX, "sh", RUNNER, str(timeout_s)] +
                             ([only] if only else []), env=env,
                             capture_output=True, text=True, timeout=120).stdout
        pids = []
        if os.path.exists(f"{d}/pids"):
            pids = [int(p) for p in open(f"{d}/pids").read().split()]
    return out, pids


def exit_line(out, name):
    return [l for l in out.splitlines() if l.startswith(f"# SVMGPU-EXIT {name} ")][0].split()


@case
def leftover_child_is_reported_and_killed():
    out, pids = run({"a": "sleep 100 >/dev/null 2>&1 &\necho $! >> $PIDS\necho 'ok 1 a'\n"})
    time.sleep(0.2)
    return ("# SVMGPU-LEFTOVER a:" in out and exit_line(out, "a")[3] == "0"
            and len(pids) == 1 and not alive(pids[0]))


@case
def timeout_kills_the_whole_group():
    out, pids = run({"b": "sleep 100 >/dev/null 2>&1 &\necho $! >> $PIDS\necho 'ok 1 b'\nexec sleep 100\n"})
    time.sleep(0.2)
    return exit_line(out, "b")[3] == "137" and len(pids) == 1 and not alive(pids[0])


# a test harness's child: a process group of its own (setpgid), same session
OWN_GROUP = ("python3 -c 'import os, time; os.setpgid(0, 0); "
             "open(os.environ[\"PIDS\"], \"a\").write(\"%d\\n\" % os.getpid()); "
             "time.sleep(100)' >/dev/null 2>&1 &\n")


def wait_pids(n):
    return f"while [ $(wc -l < $PIDS 2>/dev/null || echo 0) -lt {n} ]; do sleep 0.1; done\n"


@case
def leftover_in_its_own_group_is_killed():
    out, pids = run({"d": OWN_GROUP + wait_pids(1) + "echo 'ok 1 d'\n"})
    time.sleep(0.2)
    return "# SVMGPU-LEFTOVER d:" in out and len(pids) == 1 and not alive(pids[0])


@case
def timeout_kills_a_child_in_its_own_group():
    out, pids = run({"e": OWN_GROUP + wait_pids(1) + "echo 'ok 1 e'\nexec sleep 100\n"})
    time.sleep(0.2)
    return exit_line(out, "e")[3] == "137" and len(pids) == 1 and not alive(pids[0])


# its main thread gone (a zombie), another thread still running: a
# process as the fuzzer's is when a thread of it is stuck in the kernel
MAIN_THREAD_EXITS = ("exec python3 -c 'import ctypes, os, threading, time; "
                     "open(os.environ[\"PIDS\"], \"a\").write(\"%d\\n\" % os.getpid()); "
                     "threading.Thread(target=time.sleep, args=(100,)).start(); "
                     "ctypes.CDLL(None).pthread_exit(None)' >/dev/null 2>&1\n")


@case
def timeout_kills_a_process_whose_main_thread_exited():
    t0 = time.monotonic()
    out, pids = run({"f": "echo 'ok 1 f'\n" + MAIN_THREAD_EXITS})
    time.sleep(0.2)
    return (exit_line(out, "f")[3] == "137" and time.monotonic() - t0 < 30
            and len(pids) == 1 and not alive(pids[0]))


def fake_driver(d):
    """Two writable module parameters and a read-only one; two DRM minors
    with debugfs test hooks, and the register file svmgpu_inject."""
    for name, value, mode in (("hang_timeout_ms", "10000", 0o644),
                              ("devmem_limit_mb", "0", 0o644),
                              ("num_hw_queues", "8", 0o444)):
        with open(f"{d}/params/{name}", "w") as f:
            f.write(value + "\n")
        os.chmod(f"{d}/params/{name}", mode)
    for minor in ("0", "128"):
        os.mkdir(f"{d}/dri/{minor}")
        for hook in ("svmgpu_inject_dispatch_delay", "svmgpu_inject_copy_delay",
                     "svmgpu_inject"):
            with open(f"{d}/dri/{minor}/{hook}", "w") as f:
                f.write("0\n")


# a program killed by the timeout with settings of its own left behind
ARMS = ("echo 7 > $D/params/hang_timeout_ms\n"
        "echo 9 > $D/params/devmem_limit_mb\n"
        "echo 4000 > $D/dri/0/svmgpu_inject_dispatch_delay\n"
        "echo 250 > $D/dri/128/svmgpu_inject_copy_delay\n"
        "echo 'ok 1 g'\nexec sleep 100\n")
# what the next program finds, as a line of its output
SEES = ("echo \"seen: $(cat $D/params/hang_timeout_ms $D/params/devmem_limit_mb "
        "$D/dri/0/svmgpu_inject_dispatch_delay $D/dri/128/svmgpu_inject_copy_delay "
        "$D/dri/0/svmgpu_inject_copy_delay | tr '\\n' ' ')\"\necho 'ok 1 h'\n")


@case
def a_killed_program_leaves_no_parameter_or_hook_behind():
    # the runner runs its programs in name order: g, then h
    out, _ = run({"g": ARMS, "h": SEES}, setup=fake_driver)
    return (exit_line(out, "g")[3] == "137" and exit_line(out, "h")[3] == "0"
            and "seen: 10000 0 0 0 0 " in out)


@case
def program_asked_for_and_missing_fails():
    """TESTS=alpha,gone: alpha runs, gone is a failing program of its own
    (a rename that left a TESTS list behind ran nothing, silently)."""
    out, _ = run({"alpha": "echo 'ok 1 a'\n"}, only="alpha,gone")
    return ("ok 1 a" in out and "# SVMGPU-PROGRAM gone" in out and
            "not ok 1 gone is in " in out and "# SVMGPU-EXIT gone 1 0 0" in out)


KMEMLEAK_REPORT = """unreferenced object 0xffff888104f6a260 (size 32):
  comm "sh", pid 211, jiffies 4294953412
  hex dump (first 32 bytes):
    73 76 6d 67 70 75 2d 6b 6d 65 6d 6c 65 61 6b 2d  svmgpu-kmemleak-
    63 61 6e 61 72 79 00 00 00 00 00 00 00 00 00 00  canary..........
  backtrace:
    [<00000000a1b2c3d4>] __kmem_cache_alloc_node+0x1d0/0x3e0
    [<00000000a1b2c3d5>] kmemdup+0x1c/0x40
    [<00000000a1b2c3d6>] 0xffffffffc0a01234
unreferenced object 0xffff888104f6a300 (size 64):
  comm "svmgpu-torture", pid 300, jiffies 4294953412
  backtrace:
    [<00000000a1b2c3d7>] some_core_function+0x10/0x40
unreferenced object 0xffff888104f6a400 (size 128):
  comm "svm_faults", pid 301, jiffies 4294953412
  backtrace:
    [<00000000a1b2c3d8>] 0xffffffffc0a3fff0
unreferenced object 0xffff888104f6a500 (size 128):
  comm "x", pid 302, jiffies 4294953412
  backtrace:
    [<00000000a1b2c3d9>] 0xffffffffc0a40000
unreferenced object 0xffff888104f6a600 (size 128):
  comm "x", pid 303, jiffies 4294953412
  backtrace:
    [<00000000a1b2c3da>] svmgpu_queue_create+0x10/0x80 [svmgpu]
"""


@case
def kmemleak_filter_attributes_by_name_and_by_address():
    """The runner's kmemleak filter under busybox awk: after the unload,
    the driver's frames are bare addresses in its range (base and size
    from /proc/modules, 64-bit, whose printf %x busybox truncates); the
    canary is attributed that way; a tool named svmgpu-... in "comm" is
    not the driver; the first address past the module is not ours."""
    text = open(RUNNER).read()
    start = text.index("found=$(awk -v mod=\"$mod\" '") + len("found=$(awk -v mod=\"$mod\" '")
    prog = text[start:text.index("' \"$leaks\")", start)]
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/prog.awk", "w") as f:
            f.write(prog)
        with open(f"{d}/report", "w") as f:
            f.write(KMEMLEAK_REPORT)

        def judge(mod):
            return subprocess.run([BUSYBOX, "awk", "-v", f"mod={mod}", "-f", f"{d}/prog.awk",
                                   f"{d}/report"], capture_output=True, text=True,
                                  check=True).stdout.split("\n")

        with_range = judge("0xffffffffc0a00000 262144")
        without = judge("")
    got = [l.split(" ")[0] + " " + l.split()[3] for l in with_range if l]
    bare = [l.split(" ")[0] + " " + l.split()[3] for l in without if l]
    return (got == ["C 0xffff888104f6a260", "L 0xffff888104f6a400", "L 0xffff888104f6a600"]
            and bare == ["c 0xffff888104f6a260", "L 0xffff888104f6a600"])


@case
def clean_program_leaves_no_note():
    out, _ = run({"c": "echo 'ok 1 c'\n"})
    return "LEFTOVER" not in out and "STUCK" not in out and exit_line(out, "c")[3] == "0" \
        and out.rstrip().endswith("SVMGPU-DONE 0")


if __name__ == "__main__":
    main()
