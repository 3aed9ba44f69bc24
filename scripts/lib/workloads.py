#!/usr/bin/env python3
"""The figures of scripts/bench-workloads' runs, from the JSON loadgen wrote (standard library
only; scripts/plot-bench imports `collect` from here).

  workloads.py held FILE     exit 0 when the open-loop run in FILE held its offered rate (W2)
  workloads.py resume BASE   W7: the time to resume, from BASE.samples and BASE.moments.json,
                             into BASE.resume.json (exit 1 when lost or duplicated is not 0)
  workloads.py summary OUT   a table per workload found in OUT, and OUT/summary.json
"""
import glob
import json
import os
import re
import statistics
import sys

# W2: a step holds while the completions keep up with the offer and dispatch stays quick.
HELD_RATIO = 0.95
HELD_DISPATCH_P99_MS = 1000.0
# W7: throughput is back once a second's completions reach this share of the pre-kill rate.
BACK = 0.9
# W7: the pre-kill rate is measured from this share of the tasks done to the kill (the start,
# while executions are still being created, is left out).
PRE_FROM = 0.2


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def held(run):
    """Whether an open-loop run held its offered rate, and why not."""
    if run is None:
        return False, "no report"
    if run.get("tasks_lost") or run.get("tasks_duplicated") or run.get("timed_out"):
        return False, "tasks lost, duplicated or timed out"
    if run.get("executions_refused"):
        return False, f"{run['executions_refused']} executions refused"
    steady = run.get("steady")
    if not steady:
        return False, "no steady-state window"
    if steady["ratio"] < HELD_RATIO:
        return False, f"completed {steady['ratio']:.2f} of the offer"
    if (run.get("dispatch_p99_ms") or 0) > HELD_DISPATCH_P99_MS:
        return False, f"dispatch p99 {run['dispatch_p99_ms']:.0f} ms"
    return True, "held"


def resume(base):
    """W7's figures from the samples (unix time, completed tasks) and the moments."""
    moments = load(base + ".moments.json") or {}
    report = load(base + ".json")
    samples = []
    with open(base + ".samples") as f:
        for line in f:
            t, c = line.split()
            samples.append((float(t), int(c)))
    figures = {"tasks": moments.get("tasks"), "killed": moments.get("killed") is not None}
    if report:
        figures.update({k: report.get(k) for k in ("tasks_per_second", "tasks_expected", "tasks_completed",
                                                   "tasks_lost", "tasks_duplicated", "events_rejected",
                                                   "agent_redeliveries", "wall_seconds")})
    kill, restart, ready = moments.get("killed"), moments.get("restarted"), moments.get("ready")
    if kill is None or restart is None or not samples:
        figures["error"] = "the coordinator was never killed (the run ended before half its tasks)"
        return figures
    total = moments["tasks"]
    before = [(t, c) for t, c in samples if t <= kill]
    after = [(t, c) for t, c in samples if t > restart]
    at_kill = max((c for t, c in samples if t <= restart), default=0)
    start = next(((t, c) for t, c in before if c >= PRE_FROM * total), before[0] if before else None)
    pre = None
    if start and before and before[-1][0] > start[0]:
        pre = (before[-1][1] - start[1]) / (before[-1][0] - start[0])
    figures.update({
        "completed_at_kill": at_kill,
        "pre_kill_tasks_per_second": pre,
        "down_seconds": restart - kill,
        "restart_to_ready_seconds": ready - restart if ready else None,
        "restart_to_first_completion_seconds": next((t - restart for t, c in after if c > at_kill), None),
        "restart_to_rate_back_seconds": None,
        "restart_to_all_done_seconds": next((t - restart for t, c in after if c >= total), None),
    })
    # The longest time without a new completion between the restart and the end.
    stall, last = 0.0, (restart, at_kill)
    for t, c in after:
        if c > last[1]:
            stall, last = max(stall, t - last[0]), (t, c)
    figures["longest_stall_after_restart_seconds"] = stall
    if pre:
        # The end of the first second-long window after the restart with BACK of the rate.
        for i, (t, c) in enumerate(samples):
            if t - 1.0 < restart:
                continue
            k = max((j for j in range(i) if restart <= samples[j][0] <= t - 1.0), default=None)
            if k is not None and (c - samples[k][1]) / (t - samples[k][0]) >= BACK * pre:
                figures["restart_to_rate_back_seconds"] = t - restart
                break
    return figures


def shape_of(r):
    return f"{r.get('executions')} × {r.get('leaves')} max-parallel {r.get('max_parallel')}"


def run_number(path):
    m = re.search(r"\.run(\d+)", os.path.basename(path))
    return int(m.group(1)) if m else 0


def runs_of(out, workload):
    """{label: {"runs": [report, ...], "ideal": [report, ...]}} of one workload's folder."""
    found = {}
    paths = glob.glob(os.path.join(out, workload, "*.run*.json"))
    for path in sorted(paths, key=lambda p: (os.path.basename(p).split(".run")[0], run_number(p), p)):
        m = re.match(r"(.+)\.run(\d+)(\.ideal)?\.json$", os.path.basename(path))
        if not m:
            continue
        report = load(path)
        if report is None:
            continue
        report["_run"] = int(m.group(2))
        entry = found.setdefault(m.group(1), {"runs": [], "ideal": [], "resume": []})
        entry["ideal" if m.group(3) else "runs"].append(report)
        if workload == "W7" and not m.group(3) and os.path.exists(path[:-5] + ".resume.json"):
            entry["resume"].append(load(path[:-5] + ".resume.json"))
    return found


def number(label):
    m = re.search(r"\d+", label)
    return int(m.group()) if m else 0


def collect(out):
    """Everything a summary or a plot needs, per workload present in OUT."""
    data = {"meta": load(os.path.join(out, "meta.json")) or {}}
    for workload in ("W1", "W2", "W3", "W4", "W6", "W7"):
        found = runs_of(out, workload)
        if found:
            data[workload] = dict(sorted(found.items(), key=lambda kv: number(kv[0])))
    if "W2" in data:
        data["W2_sustainable"] = sustainable(data["W2"])
    return data


def sustainable(steps):
    """Per run of W2: the last step that held (its offered rate and its steady completions)."""
    per_run = {}
    for label, entry in steps.items():
        for report in entry["runs"]:
            per_run.setdefault(report["_run"], []).append((report.get("offered_rate") or 0, report))
    result = []
    for run_no, ladder in sorted(per_run.items()):
        last = None
        for rate, report in sorted(ladder, key=lambda x: x[0]):
            if not held(report)[0]:
                break
            last = (rate, report)
        result.append({
            "run": run_no,
            "offered": last[0] if last else None,
            "completed": last[1]["steady"]["completed_tasks_per_second"] if last else None,
            "first_failed": next((rate for rate, r in sorted(ladder, key=lambda x: x[0]) if not held(r)[0]), None),
        })
    return result


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec=".0f"):
    return "–" if v is None else format(v, spec)


def spread(reports, key, q):
    return med([(r.get(key) or {}).get(q) for r in reports])


def table(title, header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print(f"\n{title}")
    for row in [header] + rows:
        print("  " + "  ".join(str(x).rjust(w) for x, w in zip(row, widths)))


def health(reports):
    lost = sum(r.get("tasks_lost", 0) for r in reports)
    dup = sum(r.get("tasks_duplicated", 0) for r in reports)
    return f"{lost}/{dup}"


def throughput(reports, key="tasks_per_second"):
    m = med([r.get(key) for r in reports])
    return f"{fmt(m)} ({', '.join(fmt(r.get(key)) for r in reports)})"


def summary(out):
    data = collect(out)
    meta = data["meta"]
    print(f"bench-workloads {meta.get('started', '')} commit {meta.get('commit', '')[:12]}, "
          f"{meta.get('cores')} cores, {meta.get('memory_gib')} GiB, scale {meta.get('scale')}; medians of runs")
    if "W1" in data:
        rows = []
        for label, e in data["W1"].items():
            r = e["runs"]
            rows.append([fmt(r[0].get("offered_rate")), len(r),
                         fmt(med([(x.get("steady") or {}).get("offered_tasks_per_second") for x in r])),
                         fmt(med([(x.get("steady") or {}).get("completed_tasks_per_second") for x in r])),
                         throughput(r), f"{fmt(spread(r, 'dispatch_to_agent_ms', 'p50'), '.1f')} / "
                         f"{fmt(spread(r, 'dispatch_to_agent_ms', 'p99'), '.1f')}",
                         f"{fmt(spread(r, 'completion_ms', 'p50'), '.1f')} / {fmt(spread(r, 'completion_ms', 'p99'), '.1f')}",
                         health(r)])
        table("W1 latency at an offered rate (open loop)",
              ["offered/s", "runs", "steady offered/s", "steady done/s", "wall tasks/s (runs)", "dispatch→agent p50/p99 ms",
               "dispatch→done p50/p99 ms", "lost/dup"], rows)
    if "W2" in data:
        rows = []
        for label, e in data["W2"].items():
            for r in e["runs"]:
                n = r["_run"]
                ok, why = held(r)
                s = r.get("steady") or {}
                rows.append([fmt(r.get("offered_rate")), n, fmt(s.get("offered_tasks_per_second")),
                             fmt(s.get("completed_tasks_per_second")), fmt(s.get("ratio"), ".2f"),
                             fmt(r.get("dispatch_p99_ms"), ".0f"), why])
        table("W2 stepped offered rate (open loop)",
              ["offered/s", "run", "steady offered/s", "steady done/s", "ratio", "dispatch p99 ms", "step"], rows)
        sus = data["W2_sustainable"]
        print(f"  sustainable: {fmt(med([s['offered'] for s in sus]))} tasks/s offered, "
              f"{fmt(med([s['completed'] for s in sus]))} completed (runs: "
              + ", ".join(f"{fmt(s['offered'])}" for s in sus) + ")")
    for workload, title in (("W3", "W3 executions created at once (closed loop)"), ("W4", "W4 HTTP agents"),
                            ("W6", "W6 progress events per task")):
        if workload not in data:
            continue
        rows = []
        for label, e in data[workload].items():
            r, ideal = e["runs"], e["ideal"]
            limit = med([i.get("tasks_per_second") for i in ideal])
            mine = med([x.get("tasks_per_second") for x in r])
            row = [shape_of(r[0]), r[0].get("transport"), throughput(r),
                   fmt(limit), fmt(mine / limit if mine and limit else None, ".2f"),
                   f"{fmt(spread(r, 'dispatch_to_agent_ms', 'p50'), '.1f')} / {fmt(spread(r, 'dispatch_to_agent_ms', 'p99'), '.1f')}",
                   f"{fmt(spread(r, 'execution_ms', 'p50'), '.0f')} / {fmt(spread(r, 'execution_ms', 'p99'), '.0f')}",
                   fmt(spread(r, "api_ms", "p99"), ".0f")]
            if workload == "W6":
                row += [throughput(r, "agent_events_per_second"), throughput(r, "history_events_per_second"),
                        f"{sum(x.get('progress_recorded', 0) for x in r)}/"
                        f"{sum(x.get('tasks_expected', 0) * x.get('progress_per_task', 0) for x in r)}"]
            rows.append(row + [health(r)])
        header = ["shape", "agents", "tasks/s (runs)", "ideal/s", "ratio", "dispatch→agent p50/p99 ms",
                  "execution p50/p99 ms", "API p99 ms"]
        if workload == "W6":
            header += ["agent events/s (runs)", "history events/s (runs)", "progress recorded/expected"]
        table(title, header + ["lost/dup"], rows)
    if "W7" in data:
        rows = []
        for label, e in data["W7"].items():
            for n, x in enumerate(e["resume"], 1):
                rows.append([n, fmt(x.get("pre_kill_tasks_per_second")), fmt(x.get("restart_to_ready_seconds"), ".2f"),
                             fmt(x.get("restart_to_first_completion_seconds"), ".2f"),
                             fmt(x.get("restart_to_rate_back_seconds"), ".2f"),
                             fmt(x.get("longest_stall_after_restart_seconds"), ".1f"),
                             fmt(x.get("restart_to_all_done_seconds"), ".1f"), fmt(x.get("tasks_per_second")),
                             f"{x.get('tasks_lost')}/{x.get('tasks_duplicated')}", x.get("error", "")])
        table("W7 coordinator SIGKILLed half-way (seconds after the restart)",
              ["run", "pre-kill tasks/s", "ready", "first completion", f"rate ≥{BACK:.0%} back", "longest stall", "all done",
               "tasks/s overall", "lost/dup", ""], rows)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(data, f, indent=1)


def main(argv):
    if len(argv) == 3 and argv[1] == "held":
        ok, why = held(load(argv[2]))
        print(f"{os.path.basename(argv[2])}: {why}", file=sys.stderr)
        return 0 if ok else 1
    if len(argv) == 3 and argv[1] == "resume":
        figures = resume(argv[2])
        with open(argv[2] + ".resume.json", "w") as f:
            json.dump(figures, f, indent=2)
        print(f"{os.path.basename(argv[2])}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                                        for k, v in figures.items()), file=sys.stderr)
        return 1 if figures.get("error") or figures.get("tasks_lost") or figures.get("tasks_duplicated") else 0
    if len(argv) == 3 and argv[1] == "summary":
        summary(argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
