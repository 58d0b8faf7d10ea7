#!/usr/bin/env python3
"""Where a command's round trip goes: split each completion of a queue into
the device's part, QEMU's interrupt delivery and the guest's, from a QEMU
trace of the svmgpu device.

Record the trace with the log backend and timestamps, for example

    make exec QEMU_EXTRA='-trace enable=svmgpu_doorbell
        -trace enable=svmgpu_complete -trace enable=svmgpu_irq
        -msg timestamp=on -D /tmp/trace.log' CMD='...'

then run  scripts/trace-latency.py /tmp/trace.log [--queue N].

For every doorbell of a queue that is followed by a completion of that queue,
the queue's interrupt vector (include/svmgpu/svmgpu_hw.h, SVMGPU_VEC_QUEUE)
and then the queue's next doorbell, in that order:

  device   doorbell -> completion: the engine noticing the doorbell (waking,
           or ending the step it was running) and running the commands;
  irq      completion -> svmgpu_irq: QEMU's main loop delivering the MSI-X
           message (a bottom half, run when that thread gets a host core);
  guest    svmgpu_irq -> next doorbell: the guest's interrupt handler, the
           waiter woken, the program's own work and its next submission.

Only doorbells that add one command to an idle queue are counted: the
first doorbell seen of a queue (its tail unknown), a doorbell whose tail
moved by anything but one (more than one command, or the ring's tail
wrapping to 0: one sample per wrap), and a doorbell rung while the queue's
previous command is still in flight (and that one's trip too) are left
out.  A queue that is never waited on (no interrupt) has no rows.  Prints,
per queue, the number of round trips
and each phase's median, 90th percentile and mean in microseconds.
Exit status 0, 1 if the file has no usable round trip, 2 on bad arguments.
"""
import argparse
import os
import re
import statistics
import sys

LINE = re.compile(r"^(\d+)@(\d+)\.(\d+):(svmgpu_\w+) (.*)$")
HW_H = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                    "include", "svmgpu", "svmgpu_hw.h")


def queue_vector_base(path=HW_H):
    """The first queue's vector, from the layout header."""
    with open(path, encoding="utf-8") as f:
        m = re.search(r"#define\s+SVMGPU_VEC_QUEUE\(q\)\s+\((\d+)\s*\+\s*\(q\)\)",
                      f.read())
    if not m:
        raise SystemExit(f"{path}: no SVMGPU_VEC_QUEUE(q) definition")
    return int(m.group(1))


def parse(lines):
    """(time in us, event, {field: int}) for each svmgpu event line."""
    out = []
    for line in lines:
        m = LINE.match(line.strip())
        if not m:
            continue
        t = int(m.group(2)) * 1_000_000 + int(m.group(3))
        words = m.group(5).split()
        fields = {}
        for k, v in zip(words[::2], words[1::2]):
            try:
                fields[k] = int(v, 0)
            except ValueError:
                pass
        out.append((t, m.group(4), fields))
    return out


def round_trips(events, vbase):
    """{queue: [(device, irq, guest), ...]} in microseconds."""
    trips = {}
    state = {}      # queue -> [phase, t_doorbell, t_complete, t_irq]
    tails = {}      # queue -> tail of its last doorbell
    for t, ev, f in events:
        if ev == "svmgpu_doorbell" and "queue" in f and "tail" in f:
            q = f["queue"]
            s = state.get(q)
            if s and s[0] == 3:
                trips.setdefault(q, []).append((s[2] - s[1], s[3] - s[2], t - s[3]))
            one = tails.get(q) is not None and f["tail"] == tails[q] + 1
            tails[q] = f["tail"]
            # phase 1 or 2: the previous command is still in flight
            state[q] = [1, t, 0, 0] if one and not (s and s[0] in (1, 2)) else [0]
        elif ev == "svmgpu_complete" and "queue" in f:
            s = state.get(f["queue"])
            if s and s[0] == 1:
                s[0], s[2] = 2, t
        elif ev == "svmgpu_irq" and "vector" in f:
            s = state.get(f["vector"] - vbase)
            if s and s[0] == 2:
                s[0], s[3] = 3, t
    return trips


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace", help="QEMU trace log (log backend, -msg timestamp=on)")
    ap.add_argument("--queue", type=int, help="only this hardware queue")
    a = ap.parse_args(argv)
    with open(a.trace, encoding="utf-8", errors="replace") as f:
        trips = round_trips(parse(f), queue_vector_base())
    if a.queue is not None:
        trips = {q: v for q, v in trips.items() if q == a.queue}
    if not trips:
        print(f"{a.trace}: no doorbell -> completion -> interrupt -> doorbell "
              "sequence (were svmgpu_doorbell, svmgpu_complete and svmgpu_irq "
              "traced with -msg timestamp=on?)", file=sys.stderr)
        return 1
    print("queue  trips   device us (med/p90/mean)   irq us (med/p90/mean)"
          "   guest us (med/p90/mean)")
    for q in sorted(trips):
        v = trips[q]
        cols = []
        for i in range(3):
            x = [r[i] for r in v]
            cols.append(f"{statistics.median(x):7.0f} {pct(x, 0.9):7.0f} "
                        f"{statistics.mean(x):7.0f}")
        print(f"{q:5d} {len(v):6d}  " + "   ".join(cols))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
