#!/usr/bin/env python3
"""What a guest that is about to be cut by the boot timeout was doing.

    qemu-hang-dump.py MONITOR_SOCKET QEMU_PID OUT [SYSTEM_MAP]

scripts/boot.sh runs this a little before its BOOT_TIMEOUT kills QEMU: a run
that reached the timeout is a hang (a test that SIGKILL did not end, a guest
that stopped, or QEMU itself stuck), and the console log alone cannot tell
which.  OUT gets, through QEMU's human monitor, where each vCPU is (`info
cpus`, `info registers -a`: the guest's RIP and stack pointer, named from
the guest kernel's System.map when given; `info lapic`, `info pic`: the
interrupt a halted vCPU waits for), and, through
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


def symbolize(text, system_map):
    """"RIP=... is function+0x..." lines for the RIPs in @text."""
    try:
        with open(system_map) as f:
            syms = sorted((int(a, 16), n) for a, t, n in
                          (l.split()[:3] for l in f if len(l.split()) >= 3)
                          if t in "tTwW")
    except (OSError, ValueError):
        return ""
    if not syms:
        return ""       # a stub (Debian's): no names rather than wrong ones
    addrs = [a for a, _ in syms]
    lines = []
    for rip in (re.findall(r"RIP=([0-9a-f]{16})", text)):
        v = int(rip, 16)
        i = bisect.bisect_right(addrs, v) - 1
        where = f"{syms[i][1]}+{v - syms[i][0]:#x}" if i >= 0 else "?"
        lines.append(f"RIP={rip} is {where}\n")
    return ("### guest RIPs in the order above, CPU#0 first (System.map)\n" + "".join(lines)
            if lines else "")


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    sock, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    system_map = sys.argv[4] if len(sys.argv) == 5 else ""
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
            if system_map:
                f.write(symbolize(regs, system_map))
        else:
            f.write(f"monitor: no socket {sock}\n")
        f.flush()
        f.write("### QEMU threads\n")
        f.write(gdb_threads(pid))


if __name__ == "__main__":
    main()
