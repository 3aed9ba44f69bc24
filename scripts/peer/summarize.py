"""scripts/bench-peers' summary: one JSON file with every run, and a table per workload shape.

    python3 summarize.py OUT.json RAW_DIR POSTGRES_VERSION NAME:EXECUTIONSxLEAVESxMAX_PARALLEL...

RAW_DIR/NAME/ holds SYSTEM-RUN.json for SYSTEM in planexec, ideal, celery, graphile-worker
(what each system's bench wrote for that run). OUT.json gets
{"shapes": [{"name", "executions", "leaves", "max_parallel", "systems": {SYSTEM: [run, ...]}}]}
with each run as its bench wrote it: every run has `tasks_per_second`; the runs of planexec and
the peers also have `execution_ms` (p50, p95, p99, max) and tasks lost and duplicated.
"""

import datetime
import glob
import json
import os
import platform
import re
import statistics
import sys

SYSTEMS = ("planexec", "ideal", "celery", "graphile-worker")
LABELS = {"planexec": "planexec", "ideal": "idealised limit", "celery": "Celery",
          "graphile-worker": "graphile-worker"}


def load(raw, name):
    systems = {}
    for system in SYSTEMS:
        files = glob.glob(os.path.join(raw, name, f"{system}-*.json"))
        run_of = lambda p: int(re.search(r"-(\d+)\.json$", p).group(1))
        runs = [json.load(open(p)) for p in sorted(files, key=run_of)]
        if runs:
            systems[system] = runs
    return systems


def duration(ms):
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def row(system, runs, planexec_median):
    rates = [r["tasks_per_second"] for r in runs]
    median = statistics.median(rates)
    label = LABELS[system]
    if runs[0].get("version"):
        label += " " + runs[0]["version"]
    lat = [r.get("execution_ms") for r in runs]
    latency = "–"
    if all(lat):
        p50 = statistics.median(x["p50"] for x in lat)
        p99 = statistics.median(x["p99"] for x in lat)
        latency = f"{duration(p50)} / {duration(p99)}"
    faults = "–"
    if all("tasks_lost" in r for r in runs):
        faults = f"{sum(r['tasks_lost'] for r in runs)} / {sum(r['tasks_duplicated'] for r in runs)}"
    ratio = ""
    if planexec_median is not None and system == "ideal":
        ratio = f"{planexec_median / median:.2f} of the limit"
    elif planexec_median is not None and system != "planexec":
        ratio = f"{planexec_median / median:.1f}×"
    rate = f"**{median:.0f}**" if system == "planexec" else f"{median:.0f}"
    return (f"| {label} | {rate} | {', '.join(f'{x:.0f}' for x in rates)} | {latency} "
            f"| {faults} | {ratio} |")


def main():
    out, raw, postgres, *shapes = sys.argv[1:]
    result = {
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
        "postgresql": postgres,
        "raw": raw,
        "shapes": [],
    }
    for shape in shapes:
        name, size = shape.split(":")
        executions, leaves, parallel = (int(x) for x in size.split("x"))
        systems = load(raw, name)
        result["shapes"].append({"name": name, "executions": executions, "leaves": leaves,
                                 "max_parallel": parallel, "systems": systems})
        runs = len(next(iter(systems.values()), []))
        print()
        print(f"{name}: {executions} executions × {leaves} tasks, max-parallel {parallel} "
              f"(median of {runs} runs; execution: its first task's enqueue, on planexec its "
              "first dispatch, to its last task done)")
        print()
        print("| system | tasks/s | runs | execution p50 / p99 | lost / duplicated | planexec's ratio |")
        print("|---|---|---|---|---|---|")
        planexec = systems.get("planexec")
        planexec_median = (statistics.median(r["tasks_per_second"] for r in planexec)
                           if planexec else None)
        for system in SYSTEMS:
            if system in systems:
                print(row(system, systems[system], planexec_median))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print()
    print(f"all runs: {out}")


if __name__ == "__main__":
    main()
