"""The fault-injection suite: real PlanExe plans executed while everything that can fail does.

It starts its own PostgreSQL (initdb into a temporary folder) and nats-server (with the
authentication `planexec nats init` writes), `planexec coordinator` and `planexec gateway` as
separate processes, and three agents: Larry over NATS with his own credentials, Larry over HTTP
behind a proxy that drops some answers, and a "black hole" agent that starts its tasks and never
finishes them. While the executions run it, in turn: SIGKILLs the coordinator, restarts
nats-server, restarts PostgreSQL, SIGKILLs the NATS agent mid-task and starts it again, sends
forged events (another agent's subjects with the first agent's credentials, another agent's id
over HTTP) and invalid ones. The black hole's tasks time out until their retries are spent.

Afterwards every execution must be COMPLETED, or BLOCKED for the black hole (retries_exhausted),
no task may be completed twice, every event the agents logged as delivered must be in the
history, and no forgery may have been applied. It prints one line per figure and exits 1 when
any check fails.

usage: faults.py --planexec BIN [--executions N] [--zip RUN.zip] [--work DIR] [--keep]
"""
import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from faults_checks import Api, delivered_missing, duplicates, find_zip, history, nats_auth_env
from faults_servers import Postgres, Nats, free_port
from faults_proxy import DroppingProxy

FAULTS = ["coordinator_kill", "nats_restart", "postgres_restart", "agent_kill", "forgery", "invalid_events"]
LARRY = ["send_email", "make_phone_call", "search_google_maps", "schedule_calendar_event", "conduct_interview",
         "document_findings", "draft_document", "manage_csv", "human_review"]


def log(msg):
    print(f"faults: {msg}", file=sys.stderr, flush=True)


class Suite:
    def __init__(self, o):
        self.o = o
        self.work = o.work or tempfile.mkdtemp(prefix="planexec-faults-")
        os.makedirs(self.work, exist_ok=True)
        os.chmod(self.work, 0o755)
        self.procs = {}
        self.faults = {f: 0 for f in FAULTS}
        self.resume = {f: 0.0 for f in FAULTS}
        self.failures = []
        self.forgeries_refused = 0
        self.forgeries_tried = 0
        self.rejections_noticed = 0
        self.operator = "faults-operator-" + uuid.uuid4().hex

    # --- the stack -------------------------------------------------------------------------
    def start_servers(self):
        self.pg = Postgres(os.path.join(self.work, "pg"))
        self.pg.start()
        auth = os.path.join(self.work, "natsauth")
        env = dict(os.environ)
        env.update(nats_auth_env(self.o.planexec, auth))
        self.nats = Nats(os.path.join(auth, "nats.conf"), os.path.join(self.work, "js"))
        self.nats.start()
        env.update({
            "PLANEXE_DATABASE_URL": self.pg.url, "PLANEXE_NATS_URL": self.nats.url,
            "PLANEXE_OPERATOR_TOKEN": self.operator, "PLANEXE_TASK_TIMEOUT_SECONDS": "30",
            "PLANEXE_TASK_MAX_ATTEMPTS": "6",
            "PLANEXE_RETRY_BACKOFF_SECONDS": "0.5", "PLANEXE_RETRY_MAX_BACKOFF_SECONDS": "2",
            "PLANEXE_AGENT_OFFLINE_AFTER_SECONDS": "30", "PLANEXE_LOG": "warn",
            "RUST_LOG": "warn",
        })
        env.pop("DATABASE_URL", None)
        env.pop("NATS_URL", None)
        self.env = env
        subprocess.run([self.o.planexec, "migrate", "up"], check=True, env=env, stdout=subprocess.DEVNULL)
        self.start("coordinator", [self.o.planexec, "coordinator"])
        self.gw_port = free_port()
        self.start("gateway", [self.o.planexec, "gateway", "--listen", f"127.0.0.1:{self.gw_port}"])
        self.api = Api(f"http://127.0.0.1:{self.gw_port}", self.operator)
        self.api.wait_ready(90, "faults: the gateway", self.work)
        self.proxy = DroppingProxy(self.gw_port, drop_rate=0.02)
        self.proxy.start()

    def start(self, name, argv, env=None):
        out = open(os.path.join(self.work, f"{name}.log"), "a")
        self.procs[name] = (argv, subprocess.Popen(argv, env=env or self.env, stdout=out, stderr=subprocess.STDOUT))

    def kill(self, name):
        argv, proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return argv

    def stop_all(self):
        for name, (_, proc) in list(self.procs.items()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, (_, proc) in list(self.procs.items()):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in ("proxy", "nats", "pg"):
            if hasattr(self, server):
                getattr(self, server).stop()

    # --- the work ----------------------------------------------------------------------------
    def register(self, name):
        status, agent = self.api.retry("POST", "/api/agents", {"name": name, "role": "assistant", "capabilities": LARRY})
        if status != 201:
            raise SystemExit(f"faults: registering {name}: {status} {agent}")
        return agent

    def prepare(self):
        self.nats_agent = self.register("larry-nats")
        self.http_agent = self.register("larry-http")
        self.hole = self.register("black-hole")
        creds = os.path.join(self.work, "larry-nats.creds")
        with open(creds, "w") as f:
            f.write(self.nats_agent["nats_credentials"])
        self.creds = creds
        hole_creds = os.path.join(self.work, "hole.creds")
        with open(hole_creds, "w") as f:
            f.write(self.hole["nats_credentials"])
        self.hole_creds = hole_creds
        with open(self.o.zip, "rb") as f:
            status, plan = self.api.call("POST", "/api/plans", raw=f.read(), ctype="application/zip", timeout=120)
        if status not in (200, 201):
            raise SystemExit(f"faults: importing {self.o.zip}: {status} {plan}")
        self.plan = plan["id"] if "id" in plan else plan["plan_id"]
        self.api.call("POST", f"/api/plans/{self.plan}/approve", {})
        self.executions = {}
        for i in range(self.o.executions):
            # One in three over HTTP: polling is slower, and its dropped answers cost leases.
            agent = self.http_agent if i % 3 == 2 else self.nats_agent
            status, ex = self.api.call("POST", "/api/executions",
                                       {"plan_id": self.plan, "agent_id": agent["id"], "max_parallel": 8})
            if status not in (200, 201, 202):
                raise SystemExit(f"faults: creating an execution: {status} {ex}")
            self.executions[ex["id"]] = "larry"
        # The black hole's plan: one task that times out after 3 s, twice, then blocks.
        status, hole_plan = self.api.call("POST", "/api/plans", {
            "title": "Black hole", "description": "Tasks that are started and never heard of again.",
            "phases": [{"title": "Waiting", "tasks": [{
                "title": "Send the email that never comes back", "capability": "send_email",
                "description": "Write and send an email; the agent never reports back.",
                "timeout_seconds": 3, "max_attempts": 2}]}]})
        if status not in (200, 201):
            raise SystemExit(f"faults: importing the black hole's plan: {status} {hole_plan}")
        self.api.call("POST", f"/api/plans/{hole_plan['id']}/approve", {})
        status, ex = self.api.call("POST", "/api/executions", {"plan_id": hole_plan["id"], "agent_id": self.hole["id"]})
        if status not in (200, 201, 202):
            raise SystemExit(f"faults: creating the black hole's execution: {status} {ex}")
        self.executions[ex["id"]] = "hole"

    def larry(self, name, transport):
        agent = self.nats_agent if transport == "nats" else self.http_agent
        argv = [self.o.planexec, "agent", "run", "--sim", "larry", "--transport", transport,
                "--agent-id", agent["id"], "--token", agent["token"],
                "--event-log", os.path.join(self.work, f"{name}.jsonl"), "--time-scale", "0.0005",
                "--failure-rate", "0.02", "--concurrency", "32", "--poll-interval-seconds", "2"]
        if transport == "nats":
            argv += ["--nats", self.nats.url, "--nats-creds", self.creds]
        else:
            argv += ["--gateway", f"http://127.0.0.1:{self.proxy.port}"]
        self.start(name, argv)

    def black_hole(self, stop):
        """Takes its tasks, says it started them, and is never heard of again."""
        api = Api(self.api.url, self.hole["token"])
        while not stop.is_set():
            status, message = api.call("GET", f"/api/agents/{self.hole['id']}/work?wait=2", timeout=10)
            if status == 200 and message and message.get("type") == "task":
                api.call("POST", f"/api/executions/{message['execution_id']}/events",
                         {"task_id": message["task_id"], "attempt": message["attempt"], "event_type": "task_started"})
            elif status != 204:
                time.sleep(0.5)

    # --- progress ------------------------------------------------------------------------------
    def states(self):
        out = {}
        for ex in self.executions:
            status, answer = self.api.call("GET", f"/api/executions/{ex}", timeout=5)
            if status != 200:
                return None
            out[ex] = answer
        return out

    def progress(self):
        states = self.states()
        if states is None:
            return None
        return sum(float(s.get("progress") or 0) for s in states.values())

    def finished(self, states):
        def done(ex, s):
            want = "COMPLETED" if self.executions[ex] == "larry" else "BLOCKED"
            return s["status"] == want
        return states is not None and all(done(ex, s) for ex, s in states.items())

    def time_to_resume(self, fault, before):
        """Seconds until the executions move forward again after `fault`."""
        started = time.time()
        while time.time() - started < 120:
            now = self.progress()
            states = self.states() if now is not None else None
            if now is not None and (now > before or self.finished(states)):
                took = time.time() - started
                self.resume[fault] = max(self.resume[fault], took)
                return took
            time.sleep(0.2)
        self.failures.append(f"nothing moved for 120 s after {fault}")
        return None

    # --- the faults ------------------------------------------------------------------------------
    def inject(self, fault):
        before = self.progress() or 0
        self.faults[fault] += 1
        if fault == "coordinator_kill":
            argv = self.kill("coordinator")
            self.start("coordinator", argv)
        elif fault == "nats_restart":
            self.nats.restart()
        elif fault == "postgres_restart":
            self.pg.restart()
        elif fault == "agent_kill":
            argv = self.kill("larry-nats")
            time.sleep(0.5)
            self.start("larry-nats", argv)
        elif fault == "forgery":
            self.forge()
        elif fault == "invalid_events":
            self.invalid_events()
        took = self.time_to_resume(fault, before)
        log(f"{fault}: resumed in {took if took is None else round(took, 2)} s")

    def forge(self):
        """Acts for another agent and for the operator: each try must be refused."""
        victim = next(ex for ex, who in self.executions.items() if who == "larry")
        forged = {"task_id": str(uuid.uuid4()), "attempt": 1, "event_type": "task_complete", "output": {}}
        # Over HTTP, with the HTTP agent's token, on the NATS agent's behalf and as the operator.
        tries = [
            ("POST", f"/api/executions/{victim}/events", forged, self.http_agent["token"]),
            ("PATCH", f"/api/executions/{victim}", {"status": "PAUSED"}, self.http_agent["token"]),
            ("GET", f"/api/agents/{self.nats_agent['id']}/work", None, self.http_agent["token"]),
            ("POST", "/api/agents", {"name": "intruder", "capabilities": ["send_email"]}, self.http_agent["token"]),
        ]
        for method, path, body, token in tries:
            self.forgeries_tried += 1
            status, _ = self.api.call(method, path, body, token=token)
            if status in (401, 403, 404, 422):
                self.forgeries_refused += 1
            else:
                self.failures.append(f"forgery {method} {path} answered {status}")
        # Over NATS, with the black hole's own credentials, as Larry.
        refused, tried = asyncio.run(nats_forgeries(self.nats.url, self.hole_creds, self.nats_agent["id"], victim))
        self.forgeries_tried += tried
        self.forgeries_refused += refused
        if refused != tried:
            self.failures.append(f"NATS forgery: {tried - refused} of {tried} got through")

    def invalid_events(self):
        """Events that make no sense: refused with a 4xx over HTTP, a notice over NATS."""
        victim = next(ex for ex, who in self.executions.items() if who == "larry")
        bad = [
            {"task_id": "not-a-uuid", "attempt": 1, "event_type": "task_complete"},
            {"task_id": str(uuid.uuid4()), "attempt": 0, "event_type": "task_started"},
            {"task_id": str(uuid.uuid4()), "attempt": 1, "event_type": "task_teleported"},
        ]
        for body in bad:
            status, _ = self.api.call("POST", f"/api/executions/{victim}/events", body, token=self.http_agent["token"])
            if not (400 <= status < 500):
                self.failures.append(f"invalid event {body['event_type']} answered {status}")
        self.rejections_noticed += asyncio.run(nats_invalid(self.nats.url, self.hole_creds, self.hole["id"],
                                                            next(ex for ex, w in self.executions.items() if w == "hole")))

    # --- the run -----------------------------------------------------------------------------------
    def run(self):
        self.start_servers()
        self.prepare()
        self.larry("larry-nats", "nats")
        self.larry("larry-http", "http")
        stop = threading.Event()
        hole = threading.Thread(target=self.black_hole, args=(stop,), daemon=True)
        hole.start()
        started = time.time()
        order = [f for f in FAULTS for _ in range(self.o.rounds)]
        random.Random(7).shuffle(order)
        for fault in order:
            time.sleep(self.o.pause)
            if self.finished(self.states()):
                break
            self.inject(fault)
        deadline = time.time() + self.o.timeout
        while not self.finished(self.states()):
            if time.time() > deadline:
                self.failures.append(f"not finished within {self.o.timeout} s: " + json.dumps(
                    {ex: (s or {}).get("status") for ex, s in (self.states() or {}).items()}))
                break
            time.sleep(0.5)
        elapsed = time.time() - started
        stop.set()
        for name in ("larry-nats", "larry-http"):
            self.procs[name][1].send_signal(signal.SIGTERM)
        for name in ("larry-nats", "larry-http"):
            try:
                self.procs[name][1].wait(40)
            except subprocess.TimeoutExpired:
                self.procs[name][1].kill()
        self.verify(elapsed)

    def history(self, ex):
        return history(self.api, ex)

    def verify(self, elapsed):
        states = self.states() or {}
        stored, ids, dups = 0, set(), 0
        for ex in self.executions:
            events = self.history(ex)
            stored += len(events)
            ids.update(e.get("id") for e in events)
            dups += duplicates(events)
        sent, missing = delivered_missing([os.path.join(self.work, f"{name}.jsonl")
                                           for name in ("larry-nats", "larry-http")], ids)
        completed = sum(1 for s in states.values() if s.get("status") == "COMPLETED")
        blocked = sum(1 for ex, s in states.items() if s.get("status") == "BLOCKED" and self.executions[ex] == "hole")
        lost = sum(1 for ex, s in states.items() if self.executions[ex] == "larry" and s.get("status") != "COMPLETED")
        if dups:
            self.failures.append(f"{dups} tasks completed twice")
        if missing:
            self.failures.append(f"{missing} delivered events are not in the history")
        print(f"executions: {len(self.executions)} ({completed} COMPLETED, {blocked} BLOCKED by the black hole as intended) in {elapsed:.1f} s")
        print("faults: " + ", ".join(f"{k} {v}" for k, v in self.faults.items()) + f", HTTP answers dropped {self.proxy.dropped}")
        print(f"events sent: {sent}; events stored: {stored}; delivered events missing from the history: {missing}")
        print(f"duplicates applied: {dups}; tasks lost: {lost}")
        print(f"forgeries refused: {self.forgeries_refused} of {self.forgeries_tried}; rejection notices received: {self.rejections_noticed}")
        print("longest time to resume: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.resume.items() if self.faults[k]))
        if self.failures:
            print("FAILED: " + "; ".join(self.failures))
        return not self.failures


async def nats_forgeries(url, creds, other_agent, execution):
    """With one agent's credentials: another agent's events, tasks, the operator's commands."""
    import nats
    errors = []

    async def on_error(e):
        errors.append(str(e).lower())

    nc = await nats.connect(url, user_credentials=creds, error_cb=on_error, max_reconnect_attempts=2)
    tries = [
        lambda: nc.publish(f"planexec.events.{other_agent}.{execution}", b"{}"),
        lambda: nc.subscribe(f"planexec.tasks.{other_agent}"),
        lambda: nc.request("planexec.cmd.update_execution_status",
                           json.dumps({"execution_id": execution, "status": "PAUSED"}).encode(), timeout=1),
        lambda: nc.request(f"$JS.API.CONSUMER.MSG.NEXT.PLANEXEC_TASKS.agent-{other_agent}", b'{"batch":1}', timeout=1),
    ]
    refused = 0
    for act in tries:
        before = len(errors)
        thrown = False
        try:
            await act()
            await nc.flush(timeout=2)
        except Exception as e:  # a refused request times out or names the violation
            thrown = "permission" in str(e).lower() or "timeout" in type(e).__name__.lower() or "noresponders" in type(e).__name__.lower()
        await asyncio.sleep(0.5)
        if thrown or any("permission" in x for x in errors[before:]):
            refused += 1
    await nc.close()
    return refused, len(tries)


async def nats_invalid(url, creds, agent, execution):
    """An invalid event on the agent's own subject: the coordinator must send a rejection notice."""
    import nats
    nc = await nats.connect(url, user_credentials=creds, inbox_prefix=f"_INBOX_{agent}".encode())
    sub = await nc.subscribe(f"planexec.notices.{agent}")
    js = nc.jetstream()
    await js.publish(f"planexec.events.{agent}.{execution}", b'{"not": "an event"}',
                     headers={"Nats-Msg-Id": str(uuid.uuid4())})
    try:
        await sub.next_msg(timeout=30)
        got = 1
    except Exception:
        got = 0
    await nc.close()
    return got


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--planexec", required=True)
    a.add_argument("--executions", type=int, default=int(os.environ.get("FAULTS_EXECUTIONS", "6")))
    a.add_argument("--rounds", type=int, default=int(os.environ.get("FAULTS_ROUNDS", "2")),
                   help="how often each kind of fault is injected")
    a.add_argument("--pause", type=float, default=2.0, help="seconds between faults")
    a.add_argument("--timeout", type=float, default=900)
    a.add_argument("--zip")
    a.add_argument("--work")
    a.add_argument("--keep", action="store_true")
    o = a.parse_args()
    o.zip = o.zip or find_zip()
    suite = Suite(o)
    ok = False
    try:
        suite.run()
        ok = not suite.failures
    finally:
        suite.stop_all()
        if ok and not o.keep:
            shutil.rmtree(suite.work, ignore_errors=True)
        else:
            log(f"logs and data kept in {suite.work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
