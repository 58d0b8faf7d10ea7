#!/usr/bin/env python3
"""Host tests of scripts/bench.py: BENCH lines in; table, JSON and CSV out,
the host memcpy joined to device COPY as a second baseline.  TAP output."""
import csv
import json
import os
import subprocess
import sys
import tempfile

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "..", "..", "scripts", "bench.py")

LINES = [
    {"group": "bandwidth", "name": "host memcpy", "size": 1048576, "unit": "GB/s",
     "min": 10, "median": 12, "max": 13, "reps": 3, "baseline": 0, "baseline_name": "",
     "ratio": 0, "note": ""},
    {"group": "bandwidth", "name": "device COPY (resident)", "size": 1048576, "unit": "GB/s",
     "min": 2, "median": 3, "max": 4, "reps": 3, "baseline": 1.5,
     "baseline_name": "guest CPU memcpy", "ratio": 2, "note": ""},
    {"group": "bandwidth", "name": "device COPY (resident)", "size": 16777216, "unit": "GB/s",
     "min": 5, "median": 6, "max": 7, "reps": 3, "baseline": 1.5,
     "baseline_name": "guest CPU memcpy", "ratio": 4, "note": ""},
    {"group": "boot", "name": "QEMU start to driver ready", "size": 0, "unit": "s",
     "min": 5.2, "median": 5.2, "max": 5.2, "reps": 1, "baseline": 3.1,
     "baseline_name": "guest kernel uptime", "ratio": 0, "note": "accelerator tcg"},
]


def run(lines):
    d = tempfile.mkdtemp()
    raw = os.path.join(d, "raw.txt")
    with open(raw, "w") as f:
        f.write("BENCH-MODE quick\n")
        for l in lines:
            f.write(l if isinstance(l, str) else "BENCH " + json.dumps(l) + "\n")
    p = subprocess.run([sys.executable, BENCH, raw, d, "quick"], capture_output=True, text=True)
    return p, d


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


@case
def writes_table_json_csv():
    p, d = run(LINES)
    if p.returncode:
        print("# " + p.stderr.replace("\n", "\n# "))
        return False
    res = json.load(open(os.path.join(d, "results.json")))["results"]
    rows = list(csv.DictReader(open(os.path.join(d, "results.csv"))))
    table = open(os.path.join(d, "table.txt")).read()
    return len(res) == 4 and len(rows) == 4 and "device COPY (resident)" in table


@case
def host_memcpy_joins_device_copy_of_same_size():
    p, d = run(LINES)
    res = json.load(open(os.path.join(d, "results.json")))["results"]
    copy1m = [r for r in res if r["name"].startswith("device COPY") and r["size"] == 1048576][0]
    copy16m = [r for r in res if r["name"].startswith("device COPY") and r["size"] == 16777216][0]
    return copy1m.get("host_memcpy") == 12 and abs(copy1m["ratio_host"] - 0.25) < 1e-9 \
        and "host_memcpy" not in copy16m


@case
def plot_written_for_series_with_several_sizes():
    # gnuplot comes from make deps (gnuplot-nox)
    p, d = run(LINES)
    return os.path.getsize(os.path.join(d, "bandwidth.png")) > 0


@case
def malformed_line_is_an_error_not_a_silent_table():
    p, d = run(LINES + ["BENCH {\"group\": \"boot\", \"median\": .03}\n"])
    return p.returncode != 0


def main():
    print("TAP version 13")
    print(f"1..{len(CASES)}")
    failed = 0
    for i, fn in enumerate(CASES, 1):
        try:
            ok = fn()
        except Exception as e:
            print(f"# {fn.__name__}: {e!r}")
            ok = False
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {i} {fn.__name__}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
