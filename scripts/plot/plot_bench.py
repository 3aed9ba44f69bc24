"""Draws the benchmark plots of docs/benchmarks.md as SVG; run through scripts/plot-bench.

Inputs, each optional (a plot is drawn only when its data is there):
- folders of scripts/bench-workloads (OUT/W1/..., OUT/meta.json): read with
  scripts/lib/workloads.py's `collect`;
- folders of scripts/bench's BENCH_OUT (runN.json, idealN.json; one shape per folder);
- --peers FILE: {"shapes": [{"name": ..., "systems": {"planexec": [{"tasks_per_second": ...},
  ...], "ideal": [...], "celery": [...], "graphile-worker": [...]}}]}.

Plots (into --out, default docs/benchmarks):
  workloads-throughput.svg   tasks/s per workload run, median bar, every run a dot
  latency-vs-offered.svg     W1 and W2: dispatch→agent and dispatch→done p50/p99 against the
                             offered rate
  throughput-vs-offered.svg  W2 (and W1): steady completions against the offer
  vs-ideal.svg               planexec beside the idealised pipeline of the same shape
  peers.svg                  systems side by side per shape (--peers)
  w7-resume.svg              W7: completed tasks over time around the coordinator's kill
"""
import argparse
import glob
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import workloads  # noqa: E402

# Reproducible files: no date, fixed ids, text kept as text.
plt.rcParams.update({"svg.hashsalt": "planexec", "svg.fonttype": "none", "font.size": 9,
                     "axes.spines.top": False, "axes.spines.right": False})
COLOURS = {"planexec": "#1f6feb", "ideal": "#8c959f", "celery": "#2da44e", "graphile-worker": "#bf8700"}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def save(fig, out, name, written):
    path = os.path.join(out, name)
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)
    written.append(path)


def bars(ax, labels, groups, series):
    """Grouped bars: `groups[label][series] = [values]`; the bar is the median, dots the runs."""
    width = 0.8 / max(1, len(series))
    for i, name in enumerate(series):
        xs, heights = [], []
        for j, label in enumerate(labels):
            values = [v for v in groups[label].get(name, []) if v is not None]
            if not values:
                continue
            x = j + (i - (len(series) - 1) / 2) * width
            xs.append(x)
            heights.append(statistics.median(values))
            ax.scatter([x] * len(values), values, s=10, color="black", zorder=3)
            if len(values) > 1:
                ax.vlines(x, min(values), max(values), color="black", linewidth=0.8, zorder=3)
        ax.bar(xs, heights, width * 0.95, label=name, color=COLOURS.get(name))
        for x, h in zip(xs, heights):
            ax.annotate(f"{h:,.0f}", (x, h), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=7)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    if len(series) > 1:
        ax.legend(frameon=False)


def workload_groups(data):
    """(label, {series: [tasks/s per run]}) of every workload run found."""
    groups = {}
    for label, e in data.get("W1", {}).items():
        groups[f"W1 offered {e['runs'][0].get('offered_rate'):,.0f}/s"] = {
            "planexec": [(r.get("steady") or {}).get("completed_tasks_per_second") for r in e["runs"]]}
    sus = data.get("W2_sustainable")
    if sus:
        groups["W2 sustainable"] = {"planexec": [s["completed"] for s in sus]}
    for w in ("W3", "W4", "W6"):
        for label, e in data.get(w, {}).items():
            r = e["runs"][0]
            name = {"W3": f"W3 {r.get('executions'):,} × {r.get('leaves')}",
                    "W4": f"W4 {r.get('agents')} HTTP agents",
                    "W6": f"W6 {r.get('progress_per_task')} progress/task"}[w]
            groups[name] = {"planexec": [x.get("tasks_per_second") for x in e["runs"]],
                            "ideal": [x.get("tasks_per_second") for x in e["ideal"]]}
    for label, e in data.get("W7", {}).items():
        groups["W7 coordinator killed"] = {"planexec": [x.get("tasks_per_second") for x in e["runs"]]}
    return groups


def plot_workloads(data, out, written):
    groups = workload_groups(data)
    if not groups:
        return
    labels = list(groups)
    series = ["planexec"] + (["ideal"] if any(g.get("ideal") for g in groups.values()) else [])
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(labels)), 4))
    bars(ax, labels, groups, series)
    ax.set_ylabel("tasks/s (W1, W2: steady-state completions)")
    ax.set_title("Throughput per workload (bar: median; dots: runs)")
    save(fig, out, "workloads-throughput.svg", written)


def open_loop_points(data):
    """(workload, offered, [reports]) of the open-loop runs, by offered rate."""
    points = []
    for w in ("W1", "W2"):
        for label, e in data.get(w, {}).items():
            points.append((w, e["runs"][0].get("offered_rate"), e["runs"]))
    return [p for p in points if p[1]]


def plot_latency(data, out, written):
    points = open_loop_points(data)
    if not points:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, key, title in zip(axes, ("dispatch_to_agent_ms", "completion_ms"), ("dispatch → agent", "dispatch → done")):
        for w, marker in (("W1", "o"), ("W2", "s")):
            mine = sorted((p for p in points if p[0] == w), key=lambda p: p[1])
            if not mine:
                continue
            for q, style in (("p50", "-"), ("p99", "--")):
                ys = [median([(r.get(key) or {}).get(q) for r in runs]) for _, _, runs in mine]
                ax.plot([p[1] for p in mine], ys, style, marker=marker, markersize=4, label=f"{w} {q}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("offered tasks/s")
        ax.set_title(title)
        ax.axhline(workloads.HELD_DISPATCH_P99_MS, color="grey", linewidth=0.6, linestyle=":")
    axes[0].set_ylabel("latency, ms (median of runs)")
    axes[0].legend(frameon=False, fontsize=7)
    save(fig, out, "latency-vs-offered.svg", written)


def plot_offered(data, out, written):
    points = open_loop_points(data)
    if not points:
        return
    fig, ax = plt.subplots(figsize=(5.5, 4))
    top = max(p[1] for p in points)
    ax.plot([0, top], [0, top], color="grey", linewidth=0.8, label="completed = offered")
    ax.plot([0, top], [0, workloads.HELD_RATIO * top], color="grey", linewidth=0.6, linestyle=":",
            label=f"{workloads.HELD_RATIO:.0%} of the offer")
    for w, marker in (("W1", "o"), ("W2", "s")):
        xs, ys = [], []
        for _, offered, runs in (p for p in points if p[0] == w):
            for r in runs:
                s = r.get("steady")
                if s:
                    xs.append(s["offered_tasks_per_second"])
                    ys.append(s["completed_tasks_per_second"])
        if xs:
            ax.scatter(xs, ys, marker=marker, s=16, label=f"{w} runs")
    for s in data.get("W2_sustainable") or []:
        if s["completed"]:
            ax.axhline(s["completed"], color=COLOURS["planexec"], linewidth=0.5, linestyle="--")
    ax.set_xlabel("offered tasks/s (steady-state window)")
    ax.set_ylabel("completed tasks/s (same window)")
    ax.set_title("Completions against the offer (dashed: W2 sustainable)")
    ax.legend(frameon=False, fontsize=7)
    save(fig, out, "throughput-vs-offered.svg", written)


def bench_shapes(folders, data_list):
    """{shape: {"planexec": [...], "ideal": [...]}} from scripts/bench folders and W3/W6."""
    shapes = {}
    for folder in folders:
        runs = [workloads.load(p) for p in sorted(glob.glob(os.path.join(folder, "run*.json")))]
        ideal = [workloads.load(p) for p in sorted(glob.glob(os.path.join(folder, "ideal*.json")))]
        runs = [r for r in runs if r]
        if not runs:
            continue
        shapes["scripts/bench: " + workloads.shape_of(runs[0])] = {"planexec": [r.get("tasks_per_second") for r in runs],
                                               "ideal": [i.get("tasks_per_second") for i in ideal if i]}
    for data in data_list:
        for w in ("W3", "W6"):
            for label, e in data.get(w, {}).items():
                if e["ideal"]:
                    r = e["runs"][0]
                    name = workloads.shape_of(r) + (f", {r['progress_per_task']} progress" if w == "W6" else "")
                    shapes[f"{w}: {name}"] = {"planexec": [x.get("tasks_per_second") for x in e["runs"]],
                                             "ideal": [x.get("tasks_per_second") for x in e["ideal"]]}
    return shapes


def plot_ideal(shapes, out, written):
    if not shapes:
        return
    labels = list(shapes)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels)), 4))
    bars(ax, labels, shapes, ["planexec", "ideal"])
    for j, label in enumerate(labels):
        mine, limit = median(shapes[label]["planexec"]), median(shapes[label]["ideal"])
        if mine and limit:
            ax.annotate(f"{mine / limit:.2f} of the limit", (j, max(mine, limit)), textcoords="offset points",
                        xytext=(0, 14), ha="center", fontsize=8, fontweight="bold")
    ax.margins(y=0.15)
    ax.set_ylabel("tasks/s")
    ax.set_title("planexec beside the idealised pipeline of the same shape")
    save(fig, out, "vs-ideal.svg", written)


def plot_peers(path, out, written):
    peers = workloads.load(path)
    if not peers or not peers.get("shapes"):
        print(f"plot-bench: {path} holds no shapes", file=sys.stderr)
        return
    groups, order = {}, []
    for shape in peers["shapes"]:
        groups[shape["name"]] = {name: [r.get("tasks_per_second") for r in runs]
                                 for name, runs in shape.get("systems", {}).items()}
        for name in shape.get("systems", {}):
            if name not in order:
                order.append(name)
    labels = list(groups)
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(labels)), 4))
    bars(ax, labels, groups, order)
    ax.set_ylabel("tasks/s")
    ax.set_title("Same workload, same PostgreSQL (bar: median; dots: runs)")
    save(fig, out, "peers.svg", written)


def plot_resume(folders, out, written):
    runs = []
    for folder in folders:
        for base in sorted(glob.glob(os.path.join(folder, "W7", "*.samples"))):
            moments = workloads.load(base[: -len(".samples")] + ".moments.json") or {}
            with open(base) as f:
                samples = [tuple(map(float, line.split())) for line in f if line.strip()]
            if samples and moments.get("killed"):
                runs.append((os.path.basename(base)[: -len(".samples")], samples, moments))
    if not runs:
        return
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, samples, moments in runs:
        t0 = moments["killed"]
        ax.plot([t - t0 for t, _ in samples], [c for _, c in samples], linewidth=1, label=name)
    ax.axvline(0, color="#cf222e", linewidth=0.8, label="SIGKILL, restart")
    ax.set_xlabel("seconds from the kill")
    ax.set_ylabel("tasks completed")
    ax.set_title("W7: completed tasks around the coordinator's SIGKILL")
    ax.legend(frameon=False, fontsize=7)
    save(fig, out, "w7-resume.svg", written)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", help="bench-workloads OUT folders and scripts/bench BENCH_OUT folders")
    parser.add_argument("--peers", help="the peers JSON")
    parser.add_argument("--out", default="docs/benchmarks")
    o = parser.parse_args()
    if not o.folders and not o.peers:
        newest = sorted(glob.glob("target/bench/workloads-*"))
        if not newest:
            parser.error("no folders given and none in target/bench/workloads-*: run scripts/bench-workloads first")
        o.folders = newest[-1:]
    for folder in o.folders:
        if not os.path.isdir(folder):
            parser.error(f"{folder} is not a folder")
    os.makedirs(o.out, exist_ok=True)
    workload_dirs = [f for f in o.folders if glob.glob(os.path.join(f, "W*"))]
    bench_dirs = [f for f in o.folders if glob.glob(os.path.join(f, "run*.json"))]
    written = []
    # Several workload folders: a workload found in more than one is taken from the last.
    data = {}
    for folder in workload_dirs:
        data.update({k: v for k, v in workloads.collect(folder).items() if k != "meta"})
    plot_workloads(data, o.out, written)
    plot_latency(data, o.out, written)
    plot_offered(data, o.out, written)
    plot_ideal(bench_shapes(bench_dirs, [data]), o.out, written)
    if o.peers:
        plot_peers(o.peers, o.out, written)
    plot_resume(workload_dirs, o.out, written)
    for path in written:
        print(path)
    if not written:
        print("plot-bench: nothing to plot in " + ", ".join(o.folders + ([o.peers] if o.peers else [])), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
