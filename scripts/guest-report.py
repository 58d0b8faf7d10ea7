#!/usr/bin/env python3
"""Turn a guest run's logs into test results.

    guest-report.py LOGDIR LABEL
    guest-report.py --splats CONSOLE_LOG     exit status 1 if it has a warning

Leaks are judged in the guest (the runner's module_unload program runs a
kmemleak scan after unloading the driver), so kmemleak's own summary line in
the console is not a splat here.  Reads LOGDIR/results.log (TAP from the in-guest runner on ttyS1) and
LOGDIR/console.log (the kernel console on ttyS0).  Prints one TAP line per
test case, prefixed with LABEL, and ends with "SVMGPU-COUNTS passed failed
skipped".  A run fails, even when every test passed, if the guest never
finished, a program crashed or timed out, or the kernel log carries any
warning of the kinds listed in SPLATS.
"""
import re
import sys

SPLATS = [
    # BUG: covers KASAN ("BUG: KASAN: ..."), sleeping in atomic, bad page
    # state; WARNING: covers WARN_ON, lockdep ("WARNING: possible circular
    # locking dependency"), DMA-API debugging and suspicious RCU usage.
    r"\bBUG[: ]", r"WARNING:", r"\bOops\b", r"general protection fault",
    r"Kernel panic", r"blocked for more than \d+ seconds", r"soft lockup",
    r"hard LOCKUP", r"UBSAN:", r"INFO: trying to register non-static key",
    r"DEBUG_LOCKS_WARN_ON", r"turning off the locking correctness validator",
    r"self-detected stall", r"rcu: INFO:", r"Call Trace:",
    # page-table corruption the mm reports and repairs without a trace
    # (pmd_clear_bad() and friends), and a leaked or miscounted page
    r"\bbad p(te|md|ud|4d|gd)\b", r"Bad rss-counter state",
]
SPLAT_RE = re.compile("|".join(SPLATS))
TAP_RE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*-?\s*(.*)$")


def read(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read().replace("\r", "").splitlines()
    except OSError:
        return []


def sanitizer_report(log):
    """An ASan build of QEMU (make QEMU_ASAN=1) aborts on its first report
    and leaves no core (ASan disables them): the report's headline and the
    first stack's frames, from QEMU's stderr (qemu.log)."""
    out = []
    for i, line in enumerate(log):
        if re.search(r"ERROR: AddressSanitizer|runtime error:", line):
            out.append(line.strip()[:200])
            for frame in log[i + 1:]:
                if not frame.strip() and len(out) > 1:
                    break
                if re.match(r"\s+#\d+ ", frame):
                    out.append(re.sub(r"^\s+(#\d+) 0x[0-9a-f]+ in ", r"\1 ", frame)[:200])
            break
    return out[:30]


def crash_summary(logdir):
    """A QEMU that died of a signal of its own (scripts/boot.sh): the
    signal, and the crashing thread's frames from qemu-crash.txt (CI shows
    the TAP output, not the log directory)."""
    log = read(f"{logdir}/qemu.log")
    exits = re.findall(r"^qemu-exit (\d+)$", "\n".join(log), re.M)
    codes = [int(c) for c in exits if int(c) in (132, 133, 134, 135, 136, 139)]
    if not codes:
        return []
    out = [f"QEMU died of signal {codes[-1] - 128}"]
    report = sanitizer_report(log)
    if report:
        return out + report
    text = read(f"{logdir}/qemu-crash.txt")
    if not text:
        return out + ["no core or no gdb: no backtrace"]
    inside = False
    for line in text:
        if line.startswith("== crashing thread"):
            inside = True
        elif line.startswith("== all threads"):
            break
        elif inside and line.startswith("#"):
            frame = re.sub(r"^(#\d+)\s+(0x[0-9a-f]+ in )?", r"\1 ", line)
            out.append(re.sub(r" \(.*\) at ", " at ", frame)[:200])
    return out[:30]


def hang_summary(logdir):
    """The gist of scripts/qemu-hang-dump.py's qemu-hang.txt, for the TAP
    output (CI shows that, not the log directory): why it was taken, each
    vCPU's place in both samples and its stack's named text addresses, and
    where each QEMU thread is in QEMU's own code."""
    text = read(f"{logdir}/qemu-hang.txt")
    if not text:
        return []
    out = [text[0].lstrip("# ")]
    body = "\n".join(text)
    status = re.search(r"^VM status: (.*)$", body, re.M)
    monitor = re.search(r"^monitor: (.*)$", body, re.M)
    out.append(f"monitor: {monitor.group(1)}" if monitor else
               f"VM status {status.group(1) if status else '?'}")
    names = dict(re.findall(r"^RIP=([0-9a-f]{16}) is (.*)$", body, re.M))
    cpus = re.findall(r"^CPU#(\d+)\n(?:.*\n)*?(?:RIP|EIP)=([0-9a-f]+) (?:RFL|EFL)=([0-9a-f]+).*"
                      r"CPL=(\d).*HLT=(\d)", body, re.M)
    for cpu, rip, rfl, cpl, hlt in cpus:
        out.append(f"CPU#{cpu} RIP={rip} {names.get(rip, '')} IF={int(rfl, 16) >> 9 & 1} "
                   f"CPL={cpl} HLT={hlt}".replace("  ", " "))
    # a halted vCPU waits for an interrupt: is its timer armed, one pending?
    for m in re.finditer(r"^### \(qemu\) info lapic (\d+)\n((?:.*\n)*?)\(qemu\)", body, re.M):
        lapic = dict(re.findall(r"^(LVTT|Timer|ISR|IRR)\s+(.*)$", m.group(2), re.M))
        out.append(f"lapic {m.group(1)}: " + "; ".join(
            f"{k} {' '.join(v.split())}" for k, v in lapic.items()))
    for m in re.finditer(r"^### (CPU#\d+) stack from RSP=\S+\n((?:  \S+ .*\n?)*)", body, re.M):
        frames = [l.split(None, 1)[1] for l in m.group(2).splitlines() if l.strip()]
        if frames:
            out.append(f"{m.group(1)} stack: " + " < ".join(frames[:24]))
    # each QEMU thread's innermost frame in QEMU's source (not libc's)
    for m in re.finditer(r"^Thread \d+ \(.*?\(LWP (\d+)\) \"([^\"]*)\"\):\n((?:#.*\n?)*)",
                         body, re.M):
        frames = m.group(3).splitlines()
        # past the generic wrappers (util/: qemu_cond_wait, the mutexes)
        ours = [f for f in frames if "qemu-src/" in f and "qemu-src/util/" not in f]
        top = re.sub(r"^#\d+\s+(0x[0-9a-f]+ in )?", "", frames[0]).split(" (")[0] if frames else "?"
        where = re.search(r"(?:in )?(\w+) \(.*\) at \.\./qemu-src/(\S+)", ours[0]) if ours else None
        out.append(f"thread {m.group(1)} {m.group(2)}: {top}" +
                   (f" in {where.group(1)} {where.group(2)}" if where else ""))
    return out


# " ? func+0x12/0x40 [module]", the module maybe with its build id
FRAME_RE = re.compile(r"^\s*(\? )?[\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+( \[\w+( [0-9a-f]+)?\])?$")


def splat_detail(console):
    """The first splat's task, RIP and call trace (CI shows the TAP output,
    not console.log): the headlines alone do not say where it happened."""
    text = [re.sub(r"^\[\s*\d+\.\d+\] ", "", l) for l in console]
    first = next((i for i, l in enumerate(text)
                  if SPLAT_RE.search(l) and not l.startswith("Call Trace:")), None)
    if first is None:
        return []
    out = []
    frames = 0
    in_trace = False
    for l in text[first + 1:first + 120]:
        if l.startswith("---[ end trace") or (out and SPLAT_RE.search(l) and
                                               not l.startswith("Call Trace:")):
            break
        if re.match(r"(CPU: \d+ (UID: \d+ )?PID:|RIP: |Workqueue: )", l):
            out.append(l.strip())
        elif l.startswith("Call Trace:"):
            in_trace = True
            out.append(l.strip())
        elif in_trace and FRAME_RE.match(l) and frames < 30:
            frames += 1
            out.append("  " + l.strip())
        elif in_trace and re.match(r"\s*</TASK>", l):
            in_trace = False
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--splats":
        # scripts/boot.sh: does this console log carry a warning?
        sys.exit(1 if any(SPLAT_RE.search(l) for l in read(sys.argv[2])) else 0)
    logdir, label = sys.argv[1], sys.argv[2]
    results = read(f"{logdir}/results.log")
    console = read(f"{logdir}/console.log")
    # scripts/boot.sh booted again after a stall before /init: said, and
    # that boot's kernel log is judged too
    early = read(f"{logdir}/console-early-stall.log")
    if early:
        print(f"# {label}: the guest kernel stopped before /init and was booted again "
              f"(its logs: {logdir}/*-early-stall.*)")
        console = early + console
    passed = failed = skipped = 0
    n = 0

    def emit(ok, name, directive=""):
        nonlocal passed, failed, skipped, n
        n += 1
        if ok and directive.upper().startswith("SKIP"):
            skipped += 1
        elif ok:
            passed += 1
        else:
            failed += 1
        suffix = f" # {directive}" if directive else ""
        print(f"{'ok' if ok else 'not ok'} {n} - {label}: {name}{suffix}")

    ready = [l for l in results if l.startswith("SVMGPU-READY")]
    if ready:
        print(f"# {label}: boot to driver ready {ready[0].split()[1]} s (guest uptime)")
        emit(True, "driver ready")
    else:
        emit(False, "driver ready (no render node; see console.log)")

    program = None
    program_results = 0
    program_failed = False
    running = None
    last_done = None
    done = False
    for line in results:
        if line.startswith("# SVMGPU-PROGRAM "):
            program = line.split()[2]
            program_results = 0
            program_failed = False
            running = None
            last_done = None
            continue
        if line.startswith("# RUN "):
            # tests/harness/svmgpu_test.h: the test it starts
            running = line[len("# RUN "):].strip()
            continue
        if line.startswith("# SVMGPU-EXIT ") and program:
            fields = line.split()
            rc = int(fields[3])
            secs = float(fields[5]) - float(fields[4])
            if program_results == 0:
                emit(False, f"{program}: reported no test (exit {rc})")
            elif rc != 0 and not program_failed:
                how = {137: "killed by the per-test timeout",
                       143: "killed by the per-test timeout",
                       254: "stuck in the kernel: SIGKILL did not end it "
                            "(its kernel stacks above, sysrq-t in console.log)",
                       }.get(rc, f"exit {rc}")
                emit(False, f"{program}: {how} after its tests")
            print(f"# {label}: {program} took {secs:.1f} s")
            program = None
            continue
        if line.startswith("SVMGPU-DONE"):
            done = True
            continue
        m = TAP_RE.match(line)
        if m and program:
            running = None
            last_done = m.group(3).split(" # ", 1)[0].strip()
            program_results += 1
            ok = m.group(1) == "ok"
            desc = m.group(3)
            directive = ""
            if " # " in desc:
                desc, directive = desc.split(" # ", 1)
            if not ok:
                program_failed = True
            emit(ok, f"{program}.{desc.strip()}", directive.strip())
        elif line.startswith("#") and program:
            print(f"    {line}")
    if program:
        # in the test it started, or after the last one it reported
        where = (f" in {running}" if running else
                 f" after {last_done}" if last_done else "")
        emit(False, f"{program}: never finished{where} (guest died or timed out)")
    emit(done, "guest run completed")
    for l in hang_summary(logdir):
        print(f"# {label}: hang: {l}")
    crash = crash_summary(logdir)
    for l in crash:
        print(f"# {label}: crash: {l}")
    if crash:
        # also after SVMGPU-DONE (poweroff: device reset, unrealize)
        emit(False, f"QEMU did not crash ({crash[0]})")

    splats = [l for l in console if SPLAT_RE.search(l)]
    # an empty or cut console (serial wiring, a kernel that never ran) is
    # no proof of a clean kernel log
    if not any("Linux version" in l for l in console):
        emit(False, "kernel log free of warnings (console.log has no kernel log)")
    else:
        emit(not splats, "kernel log free of warnings")
    for l in splats[:20]:
        print(f"#   {l}")
    detail = splat_detail(console)
    if detail:
        print("#   the first one:")
    for l in detail:
        print(f"#     {l}")
    print(f"SVMGPU-COUNTS {passed} {failed} {skipped}")


if __name__ == "__main__":
    main()
