"""The scale-out test: a real PlanExe plan executed by two coordinators and two gateways on a
three-node NATS cluster while coordinators are SIGKILLed and a NATS node is lost for good.

It starts its own PostgreSQL (initdb into a temporary folder), three nats-server processes
clustered on loopback ports (JetStream, the authentication `planexec nats init` writes, the
shape of deploy/nats/nats-cluster.conf), two `planexec coordinator` and two `planexec gateway`
processes, and two Larry simulators over NATS, each with its own credentials. Every planexec
process is given all three nodes (PLANEXE_NATS_URL, comma-separated) and PLANEXE_STREAM_REPLICAS=3.
Executions are created through both gateways. While they run, each fault waits for tasks to be
completed since the one before: a coordinator is SIGKILLed, the other must carry on alone, then
it is started again (three times, alternating); once, halfway, a NATS node that planexec clients
are connected to (the leader of the events stream when it is one) is SIGKILLed and never started
again: work must go on, and every connection it had must be made again to the other two.

Afterwards, once the coordinators have applied every event, every execution must be COMPLETED,
no task may be completed twice nor be left without its completion, no agent's completion may
have been refused (the task then done again), every event the agents logged as delivered must
be in the history, the streams must have had 3 replicas, no planexec process may have died on
its own, and both gateways must answer the same for every execution: status, progress, leaf
counts, task counts by status and the number of events. It prints one line per figure and
exits 1 when any check fails.

usage: scaleout.py --planexec BIN [--executions N] [--zip RUN.zip] [--time-scale S]
                   [--coordinator-kills K] [--timeout SECONDS] [--start-together] [--work DIR] [--keep]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from faults import Suite
from faults_checks import Api, delivered_missing, duplicates, find_zip, history, nats_auth_env
from faults_servers import NatsCluster, Postgres, free_port

# The smallest of the real runs in shared/planexe-runs (110 leaf tasks), for a short CI run.
SMALLEST_RUN = "20250711_debris_removal.zip"
COORDINATORS = ("coordinator-0", "coordinator-1")
AGENTS = ("larry-0", "larry-1")
EVENTS_STREAM, EVENTS_CONSUMER = "PLANEXEC_EVENTS", "coordinator"


def log(msg):
    print(f"scaleout: {msg}", file=sys.stderr, flush=True)


def say(msg):
    print(f"scaleout: {msg}", flush=True)


class ScaleOut(Suite):
    def __init__(self, o):
        o.work = o.work or tempfile.mkdtemp(prefix="planexec-scaleout-")
        super().__init__(o)
        self.faults = {"coordinator_kill": 0, "nats_node_kill": 0}
        self.resume = {f: 0.0 for f in self.faults}
        self.killed = []
        self.nats_lost = None

    # --- the stack -------------------------------------------------------------------------
    def start_servers(self):
        self.pg = Postgres(os.path.join(self.work, "pg"))
        self.pg.start()
        auth = os.path.join(self.work, "natsauth")
        env = dict(os.environ)
        env.update(nats_auth_env(self.o.planexec, auth))
        self.nats = NatsCluster(os.path.join(auth, "nats.conf"), self.work)
        self.nats.start()
        self.nats.open_account(env["PLANEXE_NATS_CREDS"])
        log(f"NATS cluster up, meta leader {self.nats.meta_leader()}: {self.nats.url}")
        env.update({
            "PLANEXE_DATABASE_URL": self.pg.url, "PLANEXE_NATS_URL": self.nats.url,
            "PLANEXE_STREAM_REPLICAS": "3",
            "PLANEXE_OPERATOR_TOKEN": self.operator, "PLANEXE_TASK_TIMEOUT_SECONDS": "30",
            "PLANEXE_TASK_MAX_ATTEMPTS": "6",
            "PLANEXE_RETRY_BACKOFF_SECONDS": "0.5", "PLANEXE_RETRY_MAX_BACKOFF_SECONDS": "2",
            # A killed coordinator's unacknowledged events go to the other one after this.
            "PLANEXE_EVENTS_ACK_WAIT_SECONDS": "5", "PLANEXE_AGENT_ACK_WAIT_SECONDS": "10",
            "PLANEXE_AGENT_OFFLINE_AFTER_SECONDS": "30", "PLANEXE_SHUTDOWN_GRACE_SECONDS": "5",
            "PLANEXE_LOG": "warn", "RUST_LOG": "warn",
        })
        env.pop("DATABASE_URL", None)
        env.pop("NATS_URL", None)
        self.env = env
        subprocess.run([self.o.planexec, "migrate", "up"], check=True, env=env, stdout=subprocess.DEVNULL)
        self.probes = {}
        for name in COORDINATORS:
            port = free_port()
            self.probes[name] = Api(f"http://127.0.0.1:{port}", self.operator)
            self.start(name, [self.o.planexec, "coordinator", "--metrics-listen", f"127.0.0.1:{port}"])
            # One after the other unless asked: two coordinators creating the R3 streams of a
            # fresh cluster at once often both exit ("jetstream request timed out"; started
            # again they come up), which is not what this test is about.
            if not self.o.start_together:
                self.up(name, self.probes[name])
        for name in COORDINATORS:
            self.up(name, self.probes[name])
        self.gateways = []
        for i in range(2):
            port = free_port()
            self.start(f"gateway-{i}", [self.o.planexec, "gateway", "--listen", f"127.0.0.1:{port}"])
            self.gateways.append(Api(f"http://127.0.0.1:{port}", self.operator))
        for i, gateway in enumerate(self.gateways):
            self.up(f"gateway-{i}", gateway)
        self.api = self.gateways[0]

    def up(self, name, api, seconds=90):
        """Waits until the process answers /readyz; stops the test when it exits instead."""
        deadline = time.time() + seconds
        while api.call("GET", "/readyz")[0] != 200:
            proc = self.procs[name][1]
            if proc.poll() is not None or time.time() > deadline:
                path = os.path.join(self.work, f"{name}.log")
                last = (open(path).read().strip().splitlines() or [""])[-1] if os.path.exists(path) else ""
                how = f"exited ({proc.returncode})" if proc.poll() is not None else f"not ready in {seconds} s"
                raise SystemExit(f"scaleout: FAILED: {name} {how}: {last!r}; see {path}")
            time.sleep(0.3)

    # --- the work ----------------------------------------------------------------------------
    def prepare(self):
        self.agents = {name: self.register(name) for name in AGENTS}
        for name, agent in self.agents.items():
            with open(os.path.join(self.work, f"{name}.creds"), "w") as f:
                f.write(agent["nats_credentials"])
        with open(self.o.zip, "rb") as f:
            status, plan = self.gateways[1].call("POST", "/api/plans", raw=f.read(), ctype="application/zip", timeout=120)
        if status not in (200, 201):
            raise SystemExit(f"scaleout: importing {self.o.zip}: {status} {plan}")
        self.plan = plan["id"] if "id" in plan else plan["plan_id"]
        self.gateways[1].call("POST", f"/api/plans/{self.plan}/approve", {})
        self.executions = {}
        for i in range(self.o.executions):
            gateway, agent = self.gateways[i % 2], self.agents[AGENTS[(i // 2) % 2]]
            status, ex = gateway.call("POST", "/api/executions",
                                      {"plan_id": self.plan, "agent_id": agent["id"], "max_parallel": 8})
            if status not in (200, 201, 202):
                raise SystemExit(f"scaleout: creating an execution: {status} {ex}")
            self.executions[ex["id"]] = "larry"

    def larry(self, name):
        agent = self.agents[name]
        self.start(name, [self.o.planexec, "agent", "run", "--sim", "larry", "--transport", "nats",
                          "--agent-id", agent["id"], "--token", agent["token"],
                          "--nats", self.nats.url, "--nats-creds", os.path.join(self.work, f"{name}.creds"),
                          "--event-log", os.path.join(self.work, f"{name}.jsonl"),
                          "--time-scale", str(self.o.time_scale), "--failure-rate", "0.02",
                          "--concurrency", "32", "--poll-interval-seconds", "2"])

    # --- progress ------------------------------------------------------------------------------
    def leaves(self):
        """(done, total) leaf tasks over every execution, or None while the API does not answer."""
        states = self.states()
        if states is None:
            return None
        return (sum(s.get("leaves_done") or 0 for s in states.values()),
                sum(s.get("leaves_total") or 0 for s in states.values()))

    def wait_for_done(self, share, seconds=180):
        """Waits until `share` of all leaf tasks are done (or everything finished)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            now = self.leaves()
            if now and now[1] and now[0] >= share * now[1]:
                return now
            if self.finished(self.states()):
                return now
            time.sleep(0.3)
        self.failures.append(f"not {share:.0%} of the tasks done within {seconds} s (at {self.leaves()})")
        return None

    def resumed(self, fault, done, seconds=120):
        """Seconds until a few more tasks are completed than the `done` before `fault`."""
        started = time.time()
        total = (self.leaves() or (0, 0))[1]
        step = max(3, total // 50)
        while time.time() - started < seconds:
            now = self.leaves()
            if (now and now[0] >= done + step) or self.finished(self.states()):
                took = time.time() - started
                self.resume[fault] = max(self.resume[fault], took)
                return took
            time.sleep(0.2)
        self.failures.append(f"fewer than {step} tasks completed in {seconds} s after {fault}")
        return None

    # --- the faults ------------------------------------------------------------------------------
    def kill_coordinator(self, name):
        done = (self.leaves() or (0, 0))[0]
        argv = self.kill(name)
        self.faults["coordinator_kill"] += 1
        self.killed.append(name)
        took = self.resumed("coordinator_kill", done)
        log(f"SIGKILLed {name} at {done} tasks done: the other completed more after "
            f"{took if took is None else round(took, 2)} s")
        self.start(name, argv)
        self.up(name, self.probes[name])
        log(f"{name} started again and ready")

    def kill_nats_node(self):
        # The node whose loss tests most: one that planexec clients are connected to (they must
        # fail over), the leader of the events stream if it is one (a new leader is elected).
        leader = self.nats.stream_leader(EVENTS_STREAM)
        clients = {name: self.nats.clients(name) for name in self.nats.alive()}
        victim = max(clients, key=lambda n: (clients[n] > 0, n == leader, clients[n]))
        why = f"client connections: {clients[victim]}" + (f"; the leader of {EVENTS_STREAM}" if victim == leader else "")
        self.nats_clients = clients[victim]
        done = (self.leaves() or (0, 0))[0]
        self.nats.kill(victim)
        self.faults["nats_node_kill"] += 1
        self.nats_lost = victim
        took = self.resumed("nats_node_kill", done)
        log(f"SIGKILLed {victim} ({why}) for good at {done} tasks done: more completed after "
            f"{took if took is None else round(took, 2)} s")
        # Every connection the lost node had is made again to one of the others.
        before, deadline = sum(clients.values()), time.time() + 30
        while sum(self.nats.clients(n) for n in self.nats.alive()) < before:
            if time.time() > deadline:
                now = {n: self.nats.clients(n) for n in self.nats.alive()}
                self.failures.append(f"clients did not reconnect after {victim} was lost: {clients} before, {now} after")
                break
            time.sleep(0.2)

    def replicas(self):
        """Peers (leader and replicas) of each stream, from a live node's /jsz."""
        for name in self.nats.alive():
            found = {d.get("name"): 1 + len((d.get("cluster") or {}).get("replicas") or [])
                     for d in self.nats.streams(name)}
            if found:
                return found
        return {}

    def settle(self, seconds=60):
        """Waits until the coordinators hold no event unapplied (what a killed one had taken is
        redelivered after PLANEXE_EVENTS_ACK_WAIT_SECONDS), so that both gateways are read on a
        history that no longer changes. Returns the consumer's state."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            c = self.nats.consumer(EVENTS_STREAM, EVENTS_CONSUMER)
            if c and not c.get("num_pending") and not c.get("num_ack_pending"):
                return c
            time.sleep(0.5)
        self.failures.append(f"events still unapplied {seconds} s after the end: {c}")
        return c or {}

    # --- the run -----------------------------------------------------------------------------------
    def run(self):
        self.start_servers()
        self.prepare()
        for name in AGENTS:
            self.larry(name)
        started = time.time()
        kills = self.o.coordinator_kills
        # Spread over the run: the NATS node goes halfway, the coordinators around it.
        steps = [("coordinator", COORDINATORS[i % 2]) for i in range(kills)]
        steps.insert((kills + 1) // 2, ("nats", None))
        for n, (what, name) in enumerate(steps):
            share = 0.8 * (n + 1) / (len(steps) + 1)
            if self.wait_for_done(share) is None or self.finished(self.states()):
                break
            if what == "nats":
                self.streams = self.replicas()
                self.kill_nats_node()
            else:
                self.kill_coordinator(name)
        deadline = time.time() + self.o.timeout
        while not self.finished(self.states()):
            if time.time() > deadline:
                self.failures.append(f"not finished within {self.o.timeout} s: " + json.dumps(
                    {ex: (s or {}).get("status") for ex, s in (self.states() or {}).items()}))
                break
            time.sleep(0.5)
        elapsed = time.time() - started
        died = [name for name, (_, proc) in self.procs.items() if proc.poll() is not None]
        if died:
            self.failures.append("died on their own: " + ", ".join(
                f"{name} (exit {self.procs[name][1].returncode}, see {self.work}/{name}.log)" for name in died))
        for name in AGENTS:
            self.procs[name][1].send_signal(signal.SIGTERM)
        for name in AGENTS:
            try:
                self.procs[name][1].wait(40)
            except subprocess.TimeoutExpired:
                self.procs[name][1].kill()
        self.events_consumer = self.settle()
        self.verify(elapsed)

    # --- the checks ----------------------------------------------------------------------------------
    def view(self, api, ex):
        """What one gateway says of an execution: its state, task counts, events."""
        status, state = api.retry("GET", f"/api/executions/{ex}")
        status_t, tasks = api.retry("GET", f"/api/executions/{ex}/tasks")
        if status != 200 or status_t != 200:
            return None
        counts = {}
        for task in tasks:
            for item in [task] + (task.get("subtasks") or []):
                counts[item["status"]] = counts.get(item["status"], 0) + 1
        events = history(api, ex)
        return {"state": {k: state.get(k) for k in ("status", "progress", "leaves_total", "leaves_done", "version")},
                "tasks": counts, "events": len(events)}, tasks, events

    def verify(self, elapsed):
        completed, leaves, dups, lost, ids, stored, agree = 0, 0, 0, 0, set(), 0, 0
        rejected, totals, redone, released = {}, 0, {}, 0
        for ex in self.executions:
            views = [self.view(api, ex) for api in self.gateways]
            if None in views:
                self.failures.append(f"execution {ex}: a gateway did not answer")
                continue
            (seen, tasks, events), (other, _, _) = views
            if seen == other:
                agree += 1
            else:
                self.failures.append(f"gateways disagree on {ex}: {json.dumps(seen)} vs {json.dumps(other)}")
            if seen["state"]["status"] == "COMPLETED":
                completed += 1
            totals += seen["state"]["leaves_total"] or 0
            stored += len(events)
            ids.update(e.get("id") for e in events)
            dups += duplicates(events)
            done = {e["task_id"] for e in events
                    if e.get("event_type") == "task_complete" and e.get("disposition") == "applied"}
            for task in tasks:
                for item in task.get("subtasks") or ([task] if task.get("is_leaf") else []):
                    leaves += 1
                    if item["status"] != "completed" or item["id"] not in done:
                        lost += 1
            for e in events:
                if e.get("disposition") == "rejected":
                    why = f"{e.get('event_type')} {(e.get('reason') or '').split(':')[0]}"
                    rejected[why] = rejected.get(why, 0) + 1
                    # The agent finished the work, the result was thrown away, the task handed
                    # out again: done twice, though applied once.
                    if e.get("event_type") == "task_complete":
                        redone[why.split()[1]] = redone.get(why.split()[1], 0) + 1
                # No agent restarts here, so no agent ever comes back holding nothing.
                released += e.get("event_type") == "task_abandoned"
        sent, missing = delivered_missing([os.path.join(self.work, f"{name}.jsonl") for name in AGENTS], ids)
        n = len(self.executions)
        if completed != n:
            self.failures.append(f"{n - completed} executions not COMPLETED")
        if leaves != totals:
            self.failures.append(f"the executions count {totals} leaf tasks, their task lists {leaves}")
            lost += abs(totals - leaves)
        if dups:
            self.failures.append(f"{dups} tasks completed twice")
        if lost:
            self.failures.append(f"{lost} tasks without their completion")
        if missing:
            self.failures.append(f"{missing} delivered events are not in the history")
        again = self.redeliveries()
        if redone:
            self.failures.append(
                f"{sum(redone.values())} tasks done twice by an agent, its task_complete refused ("
                + ", ".join(f"{k} {v}" for k, v in sorted(redone.items()))
                + f"); {released} tasks released as 'the agent came back holding no task' though no agent "
                f"restarted (its heartbeat said it held nothing before its completion was published); "
                f"{again} assignments handed to an agent again for an attempt it had run, and run again")
        if not getattr(self, "nats_clients", 0):
            self.failures.append("no planexec client was connected to the NATS node that was lost")
        if self.faults["coordinator_kill"] < self.o.coordinator_kills or not self.nats_lost:
            self.failures.append("the run finished before every fault was injected: give it more --executions")
        streams = getattr(self, "streams", {})
        if not streams or any(r < 3 for r in streams.values()):
            self.failures.append(f"streams not at 3 replicas before the node was lost: {streams}")
        say(f"killed coordinator {self.faults['coordinator_kill']} times ({', '.join(self.killed)}), "
            f"NATS node {self.nats_lost} for good (client connections failed over: {getattr(self, 'nats_clients', 0)})")
        say("streams before the node loss: " + ", ".join(f"{s} R{r}" for s, r in sorted(streams.items())))
        say("longest time to more completed tasks: " + ", ".join(
            f"after {k} {v:.1f} s" for k, v in self.resume.items() if self.faults[k]))
        say(f"{completed} of {n} executions COMPLETED in {elapsed:.1f} s, {leaves} tasks, {dups} duplicates, {lost} lost")
        say(f"events sent: {sent}; events stored: {stored}; delivered events missing from the history: {missing}")
        # The shared consumer delivers the whole stream: deliveries beyond its stream position
        # are redeliveries (what a killed coordinator had taken and not acknowledged).
        delivered = self.events_consumer.get("delivered") or {}
        say(f"events handed to a coordinator again after a kill: "
            f"{delivered.get('consumer_seq', 0) - delivered.get('stream_seq', 0)}")
        say(f"events rejected: {sum(rejected.values())}" + "".join(
            f"; {k} {v}" for k, v in sorted(rejected.items(), key=lambda kv: -kv[1])))
        say(f"tasks handed to an agent again for the same attempt: {again}")
        say(f"tasks released as abandoned by an agent that never restarted: {released}")
        say(f"completed work refused and done again: {sum(redone.values())}")
        say(f"gateways agree on {agree} of {n} executions (status, progress, task counts, events)")
        if self.failures:
            say("FAILED: " + "; ".join(self.failures))
        return not self.failures

    def redeliveries(self):
        """Assignments an agent received more than once (JetStream redelivers what was not
        acknowledged): work repeated by the agent, though applied once."""
        seen, again = set(), 0
        for name in AGENTS:
            path = os.path.join(self.work, f"{name}.jsonl")
            for line in open(path) if os.path.exists(path) else []:
                entry = json.loads(line)
                if entry.get("direction") == "in" and entry.get("event_type") == "task":
                    key = (entry.get("task_id"), entry.get("attempt"))
                    again += key in seen
                    seen.add(key)
        return again


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--planexec", required=True)
    a.add_argument("--executions", type=int, default=int(os.environ.get("SCALEOUT_EXECUTIONS", "6")))
    a.add_argument("--coordinator-kills", type=int, default=3)
    a.add_argument("--time-scale", type=float, default=0.0005, help="Larry's --time-scale")
    a.add_argument("--timeout", type=float, default=300, help="seconds to finish after the last fault")
    a.add_argument("--zip", help=f"a PlanExe run (default: {SMALLEST_RUN} from the real runs)")
    a.add_argument("--start-together", action="store_true",
                   help="start both coordinators at once (as a Deployment does), not one after the other")
    a.add_argument("--work")
    a.add_argument("--keep", action="store_true")
    o = a.parse_args()
    o.zip = o.zip or find_zip(SMALLEST_RUN, "scaleout")
    suite = ScaleOut(o)
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
