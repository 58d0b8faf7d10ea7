#!/usr/bin/env python3
"""Host tests of scripts/trace-latency.py: a round trip's phases are taken
from the right events of the right queue, in order, or not at all.  TAP."""
import os
import subprocess
import sys
import tempfile

from tap import case, main

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "..", "..", "scripts", "trace-latency.py")


def ev(us, name, args, pid=7):
    return f"{pid}@{100 + us // 1_000_000}.{us % 1_000_000:06d}:{name} {args}\n"


def trip(t, q, dev, irq, tail=1):
    """Doorbell at t (one command: tail moves from tail - 1), completion dev
    later, the queue's vector irq later; the caller's next doorbell ends
    the trip's guest part."""
    return (ev(t, "svmgpu_doorbell", f"queue {q} tail {tail}") +
            ev(t + dev, "svmgpu_complete", f"queue {q} seq 5 error 0") +
            ev(t + dev + irq, "svmgpu_irq", f"vector {3 + q}"))


def run(text, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write(text)
    try:
        p = subprocess.run([sys.executable, SCRIPT, f.name, *args],
                           capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if p.returncode not in (0, 1) or (p.returncode == 1 and
                                      "no doorbell" not in p.stderr):
        raise RuntimeError(f"exit {p.returncode}: {p.stderr.strip()}")
    rows = {}
    for line in p.stdout.splitlines()[1:]:
        w = line.split()
        rows[int(w[0])] = [int(w[1])] + [int(x) for x in w[2:]]
    return p.returncode, rows


FIRST = ev(0, "svmgpu_doorbell", "queue 0 tail 0") + \
    ev(0, "svmgpu_doorbell", "queue 1 tail 0") + \
    ev(0, "svmgpu_doorbell", "queue 2 tail 0") + \
    ev(0, "svmgpu_doorbell", "queue 4 tail 0")     # the tails become known


@case
def phases_of_two_trips_are_split_at_their_events():
    # trips at 100 and 1100 us on queue 2, then a last doorbell closing the second
    t = FIRST + trip(100, 2, 40, 10, 1) + trip(1100, 2, 60, 20, 2) + \
        ev(2100, "svmgpu_doorbell", "queue 2 tail 3")
    rc, rows = run(t)
    # 2 trips; device median 50, irq median 15, guest median (950+920)/2
    return rc == 0 and rows[2][0] == 2 and rows[2][1] == 50 and \
        rows[2][4] == 15 and rows[2][7] == 935


@case
def another_queues_interrupt_does_not_close_a_trip():
    t = FIRST + ev(0, "svmgpu_doorbell", "queue 1 tail 1") + \
        ev(30, "svmgpu_complete", "queue 1 seq 1 error 0") + \
        ev(35, "svmgpu_irq", "vector 2") + \
        ev(40, "svmgpu_irq", "vector 5") + \
        ev(90, "svmgpu_irq", "vector 4") + \
        ev(500, "svmgpu_doorbell", "queue 1 tail 2")
    rc, rows = run(t)
    # vector 4 is queue 1's: irq 60, guest 410; the INVAL and queue 2 vectors are not
    return rc == 0 and rows[1][1:] and rows[1][4] == 60 and rows[1][7] == 410


@case
def overlapping_commands_are_left_out():
    # B rings while A is in flight; A's completion must not count for B
    t = FIRST + ev(0, "svmgpu_doorbell", "queue 0 tail 1") + \
        ev(20, "svmgpu_doorbell", "queue 0 tail 2") + \
        ev(100, "svmgpu_complete", "queue 0 seq 1 error 0") + \
        ev(110, "svmgpu_irq", "vector 3") + \
        ev(200, "svmgpu_complete", "queue 0 seq 2 error 0") + \
        ev(210, "svmgpu_irq", "vector 3") + \
        trip(1000, 0, 30, 5, 3) + ev(1500, "svmgpu_doorbell", "queue 0 tail 4")
    rc, rows = run(t)
    # only the trip at 1000 (device 30, irq 5, guest 465)
    return rc == 0 and rows[0][0] == 1 and rows[0][1] == 30 and rows[0][7] == 465


@case
def a_doorbell_of_several_commands_is_left_out():
    t = FIRST + ev(0, "svmgpu_doorbell", "queue 0 tail 3") + \
        ev(10, "svmgpu_complete", "queue 0 seq 1 error 0") + \
        ev(20, "svmgpu_irq", "vector 3") + \
        ev(40, "svmgpu_doorbell", "queue 0 tail 4")
    rc, rows = run(t)
    return rc == 1 and rows == {}


@case
def queue_option_keeps_one_queue():
    t = FIRST + trip(0, 0, 10, 10) + trip(0, 4, 10, 10) + \
        ev(120, "svmgpu_doorbell", "queue 0 tail 2") + \
        ev(120, "svmgpu_doorbell", "queue 4 tail 2")
    rc, rows = run(t, "--queue", "4")
    return rc == 0 and list(rows) == [4]


@case
def lines_without_timestamps_give_no_trip():
    t = "svmgpu_doorbell queue 0 tail 1\nsvmgpu_complete queue 0 seq 1 error 0\n"
    rc, rows = run(t)
    return rc == 1 and rows == {}


if __name__ == "__main__":
    main()
