#!/usr/bin/env python3
"""Turn BENCH lines into the benchmark table, JSON, CSV and plots.

    bench.py RAW OUTDIR MODE

RAW holds 'BENCH {json}' lines (svmgpu-bench in the guest, host-memcpy and
the boot timing on the host).  Writes OUTDIR/table.txt (also printed),
results.json, results.csv, and one PNG per group plotting the median
against size (log-log), with the baseline where there is one.
"""
import csv
import json
import os
import subprocess
import sys


def human_size(n):
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} B" if n else "-"


def main():
    raw, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = []
    for line in open(raw):
        if line.startswith("BENCH "):
            rows.append(json.loads(line[6:]))
    # The host memcpy rows become the second baseline of device COPY.
    host = {r["size"]: r["median"] for r in rows if r["name"] == "host memcpy"}
    for r in rows:
        if r["name"].startswith("device COPY") and r["size"] in host:
            r["host_memcpy"] = host[r["size"]]
            r["ratio_host"] = r["median"] / host[r["size"]] if host[r["size"]] else 0

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"mode": mode, "results": rows}, f, indent=1)
    fields = ["group", "name", "size", "unit", "min", "median", "max", "reps",
              "baseline", "baseline_name", "ratio", "host_memcpy", "ratio_host", "note"]
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)

    lines = []
    head = f"{'group':<12} {'measurement':<46} {'size':>8} {'median':>10} {'(min..max)':>20} {'unit':<8} {'baseline':>10} {'ratio':>8}  baseline is"
    lines.append(head)
    lines.append("-" * len(head))
    for r in rows:
        rng = f"{r['min']:.3g}..{r['max']:.3g}"
        base = f"{r['baseline']:.4g}" if r["baseline"] else "-"
        ratio = f"{r['ratio']:.3g}" if r["ratio"] else "-"
        lines.append(f"{r['group']:<12} {r['name'][:46]:<46} {human_size(r['size']):>8} "
                     f"{r['median']:>10.4g} {rng:>20} {r['unit']:<8} {base:>10} {ratio:>8}  "
                     f"{r['baseline_name']}")
        if "host_memcpy" in r:
            lines.append(f"{'':<12} {'  vs host memcpy':<46} {'':>8} {'':>10} {'':>20} {'':<8} "
                         f"{r['host_memcpy']:>10.4g} {r['ratio_host']:>8.3g}  host memcpy (GB/s)")
        if r.get("note"):
            lines.append(f"{'':<12}   note: {r['note']}")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(table)
    sys.stdout.write(table)
    plot(rows, out)


def plot(rows, out):
    """One PNG per group: median vs size for each measurement series."""
    groups = {}
    for r in rows:
        if r["size"] and r["group"] != "boot":
            groups.setdefault(r["group"], {}).setdefault(r["name"], []).append(r)
    for group, series in groups.items():
        series = {k: v for k, v in series.items() if len(v) > 1}
        if not series:
            continue
        data = os.path.join(out, f"{group}.dat")
        script = [
            "set terminal pngcairo size 1000,600 noenhanced",
            f"set output '{os.path.join(out, group + '.png')}'",
            f"set title 'svmgpu bench: {group}'",
            "set logscale x 2", "set logscale y", "set grid", "set key outside below",
            "set xlabel 'size'", "set format x '%.0b %BB'",
            f"set ylabel '{next(iter(series.values()))[0]['unit']}'",
        ]
        plots = []
        with open(data, "w") as f:
            idx = 0
            for name, pts in series.items():
                f.write(f"# {name}\n")
                for p in sorted(pts, key=lambda p: p["size"]):
                    f.write(f"{p['size']} {p['median']} {p['baseline'] or 'NaN'}\n")
                f.write("\n\n")
                plots.append(f"'{data}' index {idx} using 1:2 with linespoints title '{name}'")
                if any(p["baseline"] for p in pts):
                    plots.append(f"'{data}' index {idx} using 1:3 with lines dashtype 2 "
                                 f"title 'baseline: {pts[0]['baseline_name']}'")
                idx += 1
        script.append("plot " + ", ".join(plots))
        try:
            subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True,
                           capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"bench: plot {group} failed: {e}", file=sys.stderr)


if __name__ == "__main__":
    main()
