#!/usr/bin/env python3
"""What a guest that is about to be cut by the boot timeout was doing.

    qemu-hang-dump.py MONITOR_SOCKET QEMU_PID OUT [SYSTEM_MAP [RESULTS_LOG]]

scripts/boot.sh runs this a little before its BOOT_TIMEOUT kills QEMU: a run
that reached the timeout is a hang (a test that SIGKILL did not end, a guest
that stopped, or QEMU itself stuck), and the console log alone cannot tell
which.  OUT gets, through QEMU's human monitor, where each vCPU is (`info
cpus`, `info registers -a`: the guest's RIP and stack pointer, named from
the guest kernel's System.map when given, and the modules' symbols from
the SVMGPU-KSYM lines images/init writes to RESULTS_LOG; `info lapic`,
`info pic`: the interrupt a halted vCPU waits for; each kernel-mode vCPU's
stack read from its RSP, the text addresses on it named), and, through
gdb when the host has it, a backtrace of every QEMU thread (a thread stuck
in the device model, or waiting for the BQL, shows there).  Each part has a
time limit: a QEMU that does not answer its monitor is itself the finding.
"""

import bisect
import os
import re
import shutil
import socket
import subprocess
import sys
import time


def hmp(path, commands, limit=20.0):
    """Run human-monitor commands; their output, or why there is none."""
    out = []
    deadline = time.monotonic() + limit
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(limit)
        s.connect(path)
    except OSError as e:
        return f"monitor: cannot connect to {path}: {e}\n"

    def until_prompt():
        buf = b""
        while not buf.endswith(b"(qemu) "):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no monitor prompt")
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("monitor closed")
            buf += chunk
        # the monitor echoes what it is sent with terminal redraws
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", buf.decode(errors="replace"))
        return text.replace("\r", "")

    try:
        until_prompt()
        for c in commands:
            s.sendall(c.encode() + b"\n")
            reply = until_prompt().split("\n", 1)  # [the echoed command, its output]
            out.append(f"### (qemu) {c}\n{reply[-1]}\n")
    except (OSError, TimeoutError, ConnectionError) as e:
        out.append(f"monitor: {e} (QEMU's main loop does not answer: the BQL may be held)\n")
    finally:
        s.close()
    return "".join(out)


def gdb_threads(pid, limit=60):
    gdb = shutil.which("gdb")
    if not gdb:
        return "gdb: not installed on the host (no QEMU thread backtraces)\n"
    try:
        r = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx",
                            "-ex", "set pagination off",
                            "-ex", "thread apply all bt"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=limit, check=False)
        return r.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return f"gdb: no answer in {limit} s\n"


def load_map(path, prefix=""):
    """(address, name) of the text symbols in a System.map, or in the
    lines of @path that start with @prefix; [] for none."""
    try:
        with open(path, errors="replace") as f:
            lines = [l[len(prefix):] for l in f if l.startswith(prefix)]
        # kallsyms lines of a module end in "[module]": kept in the name
        return [(int(w[0], 16), " ".join(w[2:])) for w in (l.split() for l in lines)
                if len(w) >= 3 and w[1] in "tTwW"]
    except (OSError, ValueError):
        return []


def name_of(syms, addrs, v):
    """function+0x... for @v, or None when it is outside the kernel's text."""
    i = bisect.bisect_right(addrs, v) - 1
    # past the last symbol by more than a large function, or past the
    # kernel's text: not text
    if i < 0 or v - syms[i][0] > 0x10000 or syms[i][1] in ("_etext", "__etext"):
        return None
    return f"{syms[i][1]}+{v - syms[i][0]:#x}"


def symbolize(text, syms):
    """"RIP=... is function+0x..." lines for the RIPs in @text."""
    if not syms:
        return ""       # a stub (Debian's): no names rather than wrong ones
    addrs = [a for a, _ in syms]
    lines = []
    for rip in (re.findall(r"RIP=([0-9a-f]{16})", text)):
        lines.append(f"RIP={rip} is {name_of(syms, addrs, int(rip, 16)) or '?'}\n")
    return ("### guest RIPs in the order above, CPU#0 first (System.map)\n" + "".join(lines)
            if lines else "")


def kernel_cpus(regs):
    """(cpu, RSP) of each vCPU in @regs that is in 64-bit kernel mode."""
    out = []
    for block in re.split(r"\n(?=CPU#\d+\n)", regs):
        m = re.match(r"CPU#(\d+)\n", block)
        rsp = re.search(r"RSP=([0-9a-f]{16})", block)
        if m and rsp and re.search(r"\bCPL=0\b", block):
            out.append((int(m.group(1)), rsp.group(1)))
    return out


def stack_words(sock, regs, syms):
    """Each kernel-mode vCPU's stack from its RSP, and the text addresses
    on it named: a call trace as the kernel's "?" entries give one, read
    without the guest's help (a frozen guest prints nothing)."""
    addrs = [a for a, _ in syms]
    out = []
    for cpu, rsp in kernel_cpus(regs):
        dump = hmp(sock, [f"cpu {cpu}", f"x /256gx 0x{rsp}"])
        out.append(f"### CPU#{cpu} stack from RSP={rsp}\n")
        if "\nmonitor: " in "\n" + dump:
            out.append(dump)
            continue
        named = []
        for w in re.findall(r"0x([0-9a-f]{16})", dump.split("### (qemu) x ", 1)[-1].split("\n", 1)[-1]):
            where = name_of(syms, addrs, int(w, 16)) if syms else None
            if where:
                named.append(f"  {w} {where}\n")
        out.append("".join(named) if named else
                   "  (no text address named; the raw words follow)\n" + dump)
    return "".join(out)


def main():
    if len(sys.argv) not in (4, 5, 6):
        sys.exit(__doc__)
    sock, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    system_map = sys.argv[4] if len(sys.argv) >= 5 else ""
    results = sys.argv[5] if len(sys.argv) == 6 else ""
    with open(out, "a") as f:
        f.write(f"# QEMU pid {pid}, {time.ctime()}\n")
        f.flush()
        if os.path.exists(sock):
            regs = hmp(sock, ["info status", "info cpus", "info registers -a"])
            f.write(regs)
            f.flush()
            # a monitor that did not answer will not: on to gdb
            if "\nmonitor: " not in "\n" + regs:
                time.sleep(2)
                regs2 = hmp(sock, ["info registers -a"])
                f.write("### 2 s later\n" + regs2)
                regs += regs2
                # a halted vCPU waits for an interrupt: the controllers
                # show whether one is pending, masked or never armed
                f.write(hmp(sock, ["info lapic 0", "info lapic 1", "info pic",
                                   "info irq"]))
            syms = load_map(system_map) if system_map else []
            if results:
                # the modules' symbols, as this boot loaded them (images/init)
                syms += load_map(results, "SVMGPU-KSYM ")
            syms.sort()
            f.write(symbolize(regs, syms))
            if "\nmonitor: " not in "\n" + regs:
                f.write(stack_words(sock, regs2, syms))
        else:
            f.write(f"monitor: no socket {sock}\n")
        f.flush()
        f.write("### QEMU threads\n")
        f.write(gdb_threads(pid))


if __name__ == "__main__":
    main()
