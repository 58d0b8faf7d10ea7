#!/usr/bin/env python3
"""Host tests of scripts/bench.py: BENCH lines in; table, JSON and CSV out,
the host memcpy joined to device COPY as a second baseline; plots made with
Debian's matplotlib (/usr/bin/python3, python3-matplotlib from make deps),
checked through the plots.json that describes them.  TAP output."""
import csv
import json
import os
import subprocess
import tempfile

from tap import case, main

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "..", "..", "scripts", "bench.py")
# bench.sh runs bench.py with Debian's interpreter, where the plotting library is
PYTHON = "/usr/bin/python3"

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
    # two units in one group: two panels
    {"group": "tlb", "name": "TLB hit rate, 4 KiB mappings", "size": 65536, "unit": "%",
     "min": 90, "median": 95, "max": 99, "reps": 3, "baseline": 0, "baseline_name": "",
     "ratio": 0, "note": ""},
    {"group": "tlb", "name": "TLB hit rate, 4 KiB mappings", "size": 1048576, "unit": "%",
     "min": 50, "median": 60, "max": 70, "reps": 3, "baseline": 0, "baseline_name": "",
     "ratio": 0, "note": ""},
    {"group": "tlb", "name": "device access cost, 4 KiB mappings", "size": 65536,
     "unit": "ns/word", "min": 1, "median": 2, "max": 3, "reps": 3, "baseline": 0,
     "baseline_name": "", "ratio": 0, "note": ""},
    {"group": "tlb", "name": "device access cost, 4 KiB mappings", "size": 1048576,
     "unit": "ns/word", "min": 2, "median": 3, "max": 5, "reps": 3, "baseline": 0,
     "baseline_name": "", "ratio": 0, "note": ""},
    # measured once each: bars
    {"group": "scale", "name": "1 processes, total", "size": 1048576, "unit": "GB/s",
     "min": 0.1, "median": 0.11, "max": 0.12, "reps": 3, "baseline": 0.11,
     "baseline_name": "1 process", "ratio": 1, "note": ""},
    {"group": "scale", "name": "4 processes, total", "size": 1048576, "unit": "GB/s",
     "min": 0.2, "median": 0.22, "max": 0.23, "reps": 3, "baseline": 0.11,
     "baseline_name": "1 process", "ratio": 2, "note": ""},
]


_RUNS = {}


def run(lines):
    """bench.py on @lines (once per distinct input: matplotlib is slow to start)."""
    key = json.dumps(lines)
    if key not in _RUNS:
        _RUNS[key] = _run(lines)
    return _RUNS[key]


def _run(lines):
    d = tempfile.mkdtemp()
    raw = os.path.join(d, "raw.txt")
    with open(raw, "w") as f:
        f.write("BENCH-MODE quick\n")
        for l in lines:
            f.write(l if isinstance(l, str) else "BENCH " + json.dumps(l) + "\n")
    p = subprocess.run([PYTHON, BENCH, raw, d, "quick"], capture_output=True, text=True)
    return p, d


@case
def writes_table_json_csv():
    p, d = run(LINES)
    if p.returncode:
        print("# " + p.stderr.replace("\n", "\n# "))
        return False
    res = json.load(open(os.path.join(d, "results.json")))["results"]
    rows = list(csv.DictReader(open(os.path.join(d, "results.csv"))))
    table = open(os.path.join(d, "table.txt")).read()
    return len(res) == len(LINES) and len(rows) == len(LINES) and \
        "device COPY (resident)" in table


@case
def host_memcpy_joins_device_copy_of_same_size():
    p, d = run(LINES)
    res = json.load(open(os.path.join(d, "results.json")))["results"]
    copy1m = [r for r in res if r["name"].startswith("device COPY") and r["size"] == 1048576][0]
    copy16m = [r for r in res if r["name"].startswith("device COPY") and r["size"] == 16777216][0]
    return copy1m.get("host_memcpy") == 12 and abs(copy1m["ratio_host"] - 0.25) < 1e-9 \
        and "host_memcpy" not in copy16m


def png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


@case
def a_png_per_group_but_boot():
    p, d = run(LINES)
    if p.returncode:
        print("# " + p.stderr.replace("\n", "\n# "))
        return False
    return all(png(os.path.join(d, g + ".png")) for g in ("bandwidth", "tlb", "scale")) \
        and not os.path.exists(os.path.join(d, "boot.png"))


@case
def one_unit_per_axis():
    p, d = run(LINES)
    plots = json.load(open(os.path.join(d, "plots.json")))
    return [a["ylabel"] for a in plots["tlb"]] == ["%", "ns/word"] and \
        [a["ylabel"] for a in plots["bandwidth"]] == ["GB/s"]


@case
def size_sweeps_log_x_with_error_bars_and_distinct_legends():
    p, d = run(LINES)
    bw = json.load(open(os.path.join(d, "plots.json")))["bandwidth"][0]
    return bw["kind"] == "size sweep" and bw["xscale"] == "log" and bw["xlabel"] == "size" \
        and bw["errorbars"] == 2 and bw["legend"] == [
            "baseline of device COPY (resident): guest CPU memcpy",
            "device COPY (resident) (median, min..max)",
            "host memcpy (median, min..max)"]


@case
def single_measurements_are_bars_with_error_bars():
    p, d = run(LINES)
    sc = json.load(open(os.path.join(d, "plots.json")))["scale"][0]
    return sc["kind"] == "bars" and sc["errorbars"] == 1 and sc["legend"][:2] == [
        "1: 1 processes, total @ 1 MiB (median, min..max)",
        "2: 4 processes, total @ 1 MiB (median, min..max)"] and \
        sc["legend"][2] == "baseline of 1: 1 process"


@case
def replots_from_a_results_csv():
    p, d = run(LINES)
    d2 = tempfile.mkdtemp()
    q = subprocess.run([PYTHON, BENCH, "--plot-csv", os.path.join(d, "results.csv"), d2],
                       capture_output=True, text=True)
    return q.returncode == 0 and png(os.path.join(d2, "tlb.png")) and \
        json.load(open(os.path.join(d2, "plots.json"))) == \
        json.load(open(os.path.join(d, "plots.json")))


@case
def malformed_line_is_an_error_not_a_silent_table():
    p, d = run(LINES + ["BENCH {\"group\": \"boot\", \"median\": .03}\n"])
    return p.returncode != 0


if __name__ == "__main__":
    main()
