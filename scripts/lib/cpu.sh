# CPU accounting for the benchmark scripts (sourced): where a run's CPU went, per process kind.
#   cpu_ticks PID...   prints "machine postgres nats-server pids" in clock ticks (USER_HZ) so far:
#                      the whole machine's busy time (from /proc/stat), every postgres and
#                      nats-server process, and the given processes (with their reaped children).
#   add_cpu REPORT BEFORE AFTER   adds "cpu_us_per_task" (machine, postgres, nats_server,
#                      planexec) to a loadgen JSON report, per task it completed.
# Figures of processes that exited between the two samples are lost, so sample around a run
# whose servers live through it (backends of a connection pool do).

cpu_ticks() {
  local machine pg=0 nats=0 own=0 pid
  machine=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
  for pid in $(pgrep -x postgres); do pg=$((pg + $(_cpu_of "$pid"))); done
  for pid in $(pgrep -x nats-server); do nats=$((nats + $(_cpu_of "$pid"))); done
  for pid in "$@"; do own=$((own + $(_cpu_of "$pid"))); done
  echo "$machine $pg $nats $own"
}

# utime + stime + cutime + cstime of one process; 0 when it is gone.
_cpu_of() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }  # the command name may hold spaces; fields after it are fixed
  awk '{print $12+$13+$14+$15}' <<<"$stat"
}

add_cpu() {
  python3 - "$1" "$2" "$3" "$(getconf CLK_TCK)" <<'PY'
import json, sys
path, hz = sys.argv[1], int(sys.argv[4])
before, after = ([int(x) for x in s.split()] for s in sys.argv[2:4])
report = json.load(open(path))
tasks = max(report.get("tasks_completed", report.get("tasks", 0)), 1)
names = ("machine", "postgres", "nats_server", "planexec")
report["cpu_us_per_task"] = {n: round((a - b) / hz / tasks * 1e6, 1)
                             for n, b, a in zip(names, before, after)}
json.dump(report, open(path, "w"))
PY
}
