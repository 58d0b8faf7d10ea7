#!/usr/bin/python3
"""Turn BENCH lines into the benchmark table, JSON, CSV and plots.

    bench.py RAW OUTDIR MODE
    bench.py --plot-csv RESULTS.CSV OUTDIR    (plots again from a results.csv)

RAW holds 'BENCH {json}' lines (svmgpu-bench in the guest, host-memcpy and
the boot timing on the host).  Writes OUTDIR/table.txt (also printed),
results.json, results.csv, and one PNG per group (matplotlib, Debian's
python3-matplotlib: run with /usr/bin/python3), described in plots.json.  Each PNG has one panel
per unit, so an axis never mixes units: series measured at several sizes
are medians against size (log scale) with min..max error bars and their
baseline dashed; series measured once are bars with min..max error bars.
"""
import csv
import json
import os
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
        if r["name"].startswith(("device COPY", "PREFETCH")) and r["size"] in host:
            r["host_memcpy"] = host[r["size"]]
            r["ratio_host"] = r["median"] / host[r["size"]] if host[r["size"]] else 0

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"mode": mode, "results": rows}, f, indent=1)
    fields = ["group", "name", "size", "unit", "min", "median", "max", "reps",
              "baseline", "baseline_name", "ratio", "host_memcpy", "ratio_host", "note", "path"]
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
    return plot(rows, out)


def size_label(n, _pos=None):
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            v = n / div
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.3g} {unit}"
    return f"{n:.0f} B"


MARKERS = "osD^v<>ph*"
STYLES = ["-", "--", "-.", ":"]


def plot(rows, out):
    """One PNG per group, one panel per unit.  Returns 0, or 1 if a plot failed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.container import ErrorbarContainer
        from matplotlib.ticker import FuncFormatter, LogLocator
    except ImportError as e:
        print(f"bench: no plots: {e} (make deps installs python3-matplotlib for "
              "/usr/bin/python3)", file=sys.stderr)
        return 1
    groups = {}
    for r in rows:
        if r["group"] != "boot":
            groups.setdefault(r["group"], {}).setdefault(r["unit"], {}) \
                .setdefault(r["name"], []).append(r)
    failed = 0
    described = {}
    for group, units in groups.items():
        fig, axes = plt.subplots(len(units), 1, figsize=(10, 4.2 * len(units)), squeeze=False)
        described[group] = []
        for ax, (unit, series) in zip(axes[:, 0], units.items()):
            swept = {k: sorted(v, key=lambda p: p["size"]) for k, v in series.items()
                     if len({p["size"] for p in v}) > 1}
            single = {k: v[0] for k, v in series.items() if k not in swept}
            for i, (name, pts) in enumerate(swept.items()):
                x = [p["size"] for p in pts]
                y = [p["median"] for p in pts]
                err = [[p["median"] - p["min"] for p in pts], [p["max"] - p["median"] for p in pts]]
                line = ax.errorbar(x, y, yerr=err, marker=MARKERS[i % len(MARKERS)],
                                   linestyle=STYLES[i % len(STYLES)], capsize=3,
                                   label=f"{name} (median, min..max)")
                if any(p["baseline"] for p in pts):
                    ax.plot(x, [p["baseline"] or float("nan") for p in pts], linestyle=(0, (2, 2)),
                            color=line[0].get_color(), alpha=0.7,
                            label=f"baseline of {name}: {pts[0]['baseline_name']}")
            if swept:
                ax.set_xscale("log", base=2)
                ax.xaxis.set_major_locator(LogLocator(base=4))
                ax.xaxis.set_major_formatter(FuncFormatter(size_label))
                ax.set_xlabel("size")
                ys = [p[k] for v in swept.values() for p in v for k in ("min", "max") if p[k] > 0]
                if ys and max(ys) / min(ys) > 50:
                    ax.set_yscale("log")
            if single and not swept:
                names = list(single)
                med = [single[k]["median"] for k in names]
                err = [[single[k]["median"] - single[k]["min"] for k in names],
                       [single[k]["max"] - single[k]["median"] for k in names]]
                labels = [f"{k}" + (f" @ {size_label(single[k]['size'])}" if single[k]["size"] else "")
                          for k in names]
                bars = ax.bar(range(len(names)), med, yerr=err, capsize=4,
                              color=[f"C{i}" for i in range(len(names))], label=labels)
                ax.set_xticks(range(len(names)))
                ax.set_xticklabels([str(i + 1) for i in range(len(names))])
                ax.set_xlabel("series (see legend)")
                base = []
                for i, k in enumerate(names):
                    if single[k]["baseline"]:
                        base += ax.plot([i - 0.4, i + 0.4], [single[k]["baseline"]] * 2, "k--",
                                        label=f"baseline of {i + 1}: {single[k]['baseline_name']}")
                ax.legend(handles=list(bars) + base,
                          labels=[f"{i + 1}: {l} (median, min..max)" for i, l in enumerate(labels)]
                          + [ln.get_label() for ln in base],
                          fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
            elif single:
                # a one-size series beside swept ones: a marker with its error bar
                for j, (name, p) in enumerate(single.items()):
                    ax.errorbar([p["size"]], [p["median"]],
                                yerr=[[p["median"] - p["min"]], [p["max"] - p["median"]]],
                                marker=MARKERS[(len(swept) + j) % len(MARKERS)], linestyle="none",
                                capsize=3, label=f"{name} (median, min..max)")
            if swept:
                ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
            ax.set_ylabel(unit)
            ax.set_title(f"{group}: {unit}")
            ax.grid(True, which="both", alpha=0.3)
            leg = ax.get_legend()
            described[group].append({
                "ylabel": ax.get_ylabel(), "xlabel": ax.get_xlabel(),
                "xscale": ax.get_xscale(), "yscale": ax.get_yscale(),
                "kind": "size sweep" if swept else "bars",
                "legend": [t.get_text() for t in leg.get_texts()] if leg else [],
                "errorbars": sum(isinstance(c, ErrorbarContainer) for c in ax.containers)})
        fig.suptitle(f"svmgpu bench: {group}")
        fig.tight_layout()
        try:
            fig.savefig(os.path.join(out, f"{group}.png"), dpi=100)
        except (OSError, ValueError) as e:
            print(f"bench: plot {group} failed: {e}", file=sys.stderr)
            failed = 1
        plt.close(fig)
    with open(os.path.join(out, "plots.json"), "w") as f:
        json.dump(described, f, indent=1)
    return failed


def plot_csv(csv_path, out):
    """Plots again from a results.csv (docs/bench/): the numbers as written."""
    rows = []
    for r in csv.DictReader(open(csv_path)):
        for k in ("size", "reps"):
            r[k] = int(r[k] or 0)
        for k in ("min", "median", "max", "baseline", "ratio"):
            r[k] = float(r[k] or 0)
        rows.append(r)
    return plot(rows, out)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--plot-csv":
        sys.exit(plot_csv(sys.argv[2], sys.argv[3]))
    sys.exit(main())
