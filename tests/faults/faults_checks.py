"""What the fault suite (faults.py) and the scale-out test (scaleout.py) share: the API client,
the stack's environment from `planexec nats init`, the real PlanExe run to execute, and the
checks on the history (no task completed twice, every delivered event stored)."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request


class Api:
    def __init__(self, url, token):
        self.url, self.token = url, token

    def call(self, method, path, body=None, token=None, raw=None, ctype="application/json", timeout=30):
        headers = {"Authorization": "Bearer " + (token or self.token)}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["content-type"] = ctype
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, text[:300]
        except (urllib.error.URLError, OSError) as e:
            return 0, str(e)

    def retry(self, method, path, body=None, tries=120, **kw):
        """The call, tried again while the stack is recovering (no answer or a 5xx)."""
        for _ in range(tries):
            status, answer = self.call(method, path, body, **kw)
            if status and status < 500:
                return status, answer
            time.sleep(0.5)
        return status, answer

    def wait_ready(self, seconds, what, work):
        deadline = time.time() + seconds
        while self.call("GET", "/readyz")[0] != 200:
            if time.time() > deadline:
                raise SystemExit(f"{what} never became ready; see " + work)
            time.sleep(0.3)


def nats_auth_env(planexec, auth):
    """Runs `planexec nats init AUTH` and returns the variables its planexec.env names."""
    subprocess.run([planexec, "nats", "init", auth], check=True, stdout=subprocess.DEVNULL)
    env = {}
    for line in open(os.path.join(auth, "planexec.env")):
        if "=" in line and not line.startswith("#"):
            k, v = line.strip().split("=", 1)
            env[k] = v
    return env


def history(api, ex):
    """Every event of an execution, rejected ones included."""
    events, offset = [], 0
    while True:
        status, page = api.retry("GET", f"/api/executions/{ex}/events?limit=500&offset={offset}&disposition=all")
        items = page.get("events", []) if isinstance(page, dict) else []
        events += items
        if status != 200 or len(items) < 500:
            return events
        offset += len(items)


def completions(events):
    """Applied task_complete events per task id."""
    counts = {}
    for e in events:
        if e.get("event_type") == "task_complete" and e.get("disposition") == "applied":
            counts[e["task_id"]] = counts.get(e["task_id"], 0) + 1
    return counts


def duplicates(events):
    """Tasks completed more than once, counted once per extra completion."""
    return sum(n - 1 for n in completions(events).values())


def delivered_missing(event_logs, ids):
    """(sent, missing): events the agents' --event-log files say were delivered, and how many
    of them the history does not hold."""
    sent, missing = 0, 0
    for path in event_logs:
        for line in open(path) if os.path.exists(path) else []:
            entry = json.loads(line)
            if entry.get("direction") == "out":
                sent += 1
                if entry.get("event_id") not in ids:
                    missing += 1
    return sent, missing


def find_runs(what="faults"):
    """The folder of real PlanExe run zips: PLANEXE_RUNS_DIR, or shared/planexe-runs beside or
    above the repository."""
    runs = os.environ.get("PLANEXE_RUNS_DIR")
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [runs] if runs else []
    d = here
    for _ in range(6):
        candidates.append(os.path.join(d, "shared", "planexe-runs"))
        candidates.append(os.path.join(d, "..", "shared", "planexe-runs"))
        d = os.path.dirname(d)
    for c in candidates:
        if c and os.path.isdir(c) and any(f.endswith(".zip") for f in os.listdir(c)):
            return c
    raise SystemExit(f"{what}: no real PlanExe runs found: set PLANEXE_RUNS_DIR to a folder of PlanExe run zips")


def find_zip(preferred="20250517_tea_eshop.zip", what="faults"):
    """The run `preferred` in that folder, else its first zip."""
    c = find_runs(what)
    zips = sorted(f for f in os.listdir(c) if f.endswith(".zip"))
    return os.path.join(c, preferred if preferred in zips else zips[0])
