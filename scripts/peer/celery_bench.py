"""The planexec loadgen workload, run on Celery, for scripts/bench-peers.

Shape: EXECUTIONS executions of LEAVES no-op tasks, each execution split into MAX_PARALLEL
strict chains (Celery `chain`s; like `planexec loadgen --max-parallel K` with independent
leaves: K of an execution's tasks in flight at once). Durability is set to match planexec's:
RabbitMQ with persistent messages and late acks (a task is acked after it ran), every task's
state (STARTED, then SUCCESS) written to PostgreSQL.

    python celery_bench.py purge    # drop tasks an interrupted run left in RabbitMQ
    python celery_bench.py drop     # delete the bench's queue and exchange from RabbitMQ
    python celery_bench.py worker --concurrency 8
    python celery_bench.py run --executions 100 --leaves 20 --max-parallel 1 [--json]

Environment: PEER_DATABASE_URL (postgresql://user@host/db, the result backend), PEER_BROKER_URL
(default amqp://guest:guest@127.0.0.1:5672//), PEER_CELERY_QUEUE (default planexec_bench),
PEER_RUN_LOG_DIR (worker and driver: where
each worker process appends the id of every task it ran, so that lost and duplicated tasks are
counted, not assumed; one write(2) per task, no fsync), PEER_TIMEOUT (seconds, default 600).
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import timezone

import celery
from celery import Celery, chain
from celery.signals import worker_process_init
from sqlalchemy import create_engine, text

BROKER = os.environ.get("PEER_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
DATABASE = os.environ["PEER_DATABASE_URL"]  # postgresql://user@host/db
RUN_LOG_DIR = os.environ.get("PEER_RUN_LOG_DIR")

app = Celery("celery_bench", broker=BROKER, backend="db+" + DATABASE)
app.conf.update(
    task_acks_late=True,
    task_track_started=True,
    task_default_delivery_mode="persistent",
    worker_prefetch_multiplier=4,
    result_extended=False,
    broker_connection_retry_on_startup=True,
    # A queue of the bench's own, so that another Celery on the same RabbitMQ is never mixed in.
    task_default_queue=os.environ.get("PEER_CELERY_QUEUE", "planexec_bench"),
)

_ran = None


@worker_process_init.connect
def _open_run_log(**_):
    global _ran
    if RUN_LOG_DIR:
        path = os.path.join(RUN_LOG_DIR, f"ran-{os.getpid()}.log")
        _ran = open(path, "a", buffering=1)  # line-buffered: one write per task


@app.task(name="noop", bind=True)
def noop(self, _previous, execution, index):
    if _ran is not None:
        _ran.write(self.request.id + "\n")
    return index


def percentiles(values):
    values = sorted(values)

    def at(q):
        return values[min(len(values) - 1, int(q * len(values)))]

    return {
        "p50": statistics.median(values),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": values[-1],
        "count": len(values),
    }


def chain_lengths(leaves, parallel):
    """Leaves split into `parallel` strict chains, as even as they go."""
    k = min(parallel, leaves)
    return [leaves // k + (1 if c < leaves % k else 0) for c in range(k)]


def submit(executions, lengths):
    """Sends every chain; returns the ids of all tasks, each chain's last task (to its
    execution) and each execution's submission time."""
    all_ids, last_ids, submitted = [], {}, {}
    for e in range(executions):
        submitted[e] = time.time()
        for n in lengths:
            ids = [str(uuid.uuid4()) for _ in range(n)]
            steps = [noop.si(None, e, 0).set(task_id=ids[0])]
            steps += [noop.s(e, i).set(task_id=ids[i]) for i in range(1, n)]
            all_ids += ids
            last_ids[ids[-1]] = e
            chain(*steps).apply_async()
    return all_ids, last_ids, submitted


def wait(engine, last_ids, start, timeout):
    """Each chain's last task's `date_done`, polled from the result backend."""
    query = text(
        "select task_id, date_done from celery_taskmeta "
        "where status = 'SUCCESS' and task_id = any(:ids)"
    )
    done = {}
    while len(done) < len(last_ids):
        time.sleep(0.05)
        with engine.connect() as conn:
            pending = [t for t in last_ids if t not in done]
            for task_id, date_done in conn.execute(query, {"ids": pending}):
                if date_done.tzinfo is None:  # stored as UTC without a zone
                    date_done = date_done.replace(tzinfo=timezone.utc)
                done[task_id] = date_done.timestamp()
        if time.time() - start > timeout:
            sys.exit(
                f"celery_bench: only {len(done)} of {len(last_ids)} chains finished in {timeout} s"
            )
    return done


def check(engine, all_ids):
    """What the result backend and the workers' run logs say happened."""
    with engine.connect() as conn:
        recorded = conn.execute(
            text(
                "select count(*) from celery_taskmeta where status = 'SUCCESS' "
                "and task_id = any(:ids)"
            ),
            {"ids": all_ids},
        ).scalar()
    ran = None
    if RUN_LOG_DIR:
        wanted = set(all_ids)
        ran = Counter()
        for name in os.listdir(RUN_LOG_DIR):
            with open(os.path.join(RUN_LOG_DIR, name)) as log:
                ran.update(line.strip() for line in log if line.strip() in wanted)
    return recorded, ran


def run(executions, leaves, max_parallel, concurrency, as_json):
    engine = create_engine(DATABASE)
    lengths = chain_lengths(leaves, max_parallel)
    timeout = float(os.environ.get("PEER_TIMEOUT", "600"))
    start = time.time()
    all_ids, last_ids, submitted = submit(executions, lengths)
    done = wait(engine, last_ids, start, timeout)
    wall = max(done.values()) - start
    finished = {}
    for task_id, e in last_ids.items():
        finished[e] = max(finished.get(e, 0.0), done[task_id])
    latencies = [(finished[e] - submitted[e]) * 1000 for e in finished]
    recorded, ran = check(engine, all_ids)
    with app.connection_for_read() as conn:
        conn.ensure_connection()
        broker_version = conn.connection.server_properties.get("version")
    if isinstance(broker_version, bytes):
        broker_version = broker_version.decode()
    total = executions * leaves
    report = {
        "system": "celery",
        "version": celery.__version__,
        "broker": f"RabbitMQ {broker_version}",
        "executions": executions,
        "leaves": leaves,
        "max_parallel": len(lengths),
        "concurrency": concurrency,  # the worker's, as it was started (told, not checked)
        "tasks": total,
        "wall_seconds": wall,
        "tasks_per_second": total / wall,
        "execution_ms": percentiles(latencies),
        "tasks_expected": total,
        "results_recorded": recorded,
    }
    if ran is not None:
        report["tasks_completed"] = len(ran)
        report["tasks_lost"] = total - len(ran)
        report["tasks_duplicated"] = sum(n - 1 for n in ran.values())
    if as_json:
        print(json.dumps(report))
    else:
        s = report["execution_ms"]
        print(f"{executions} executions × {leaves} tasks ({len(lengths)} chains each) = "
              f"{total} tasks on Celery in {wall:.2f} s")
        print(f"  throughput        {total / wall:.0f} tasks/s")
        print(f"  execution         p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms, "
              f"p99 {s['p99']:.1f} ms, max {s['max']:.1f} ms")
        if ran is not None:
            print(f"  tasks             {report['tasks_lost']} lost, "
                  f"{report['tasks_duplicated']} duplicated, {recorded} results recorded")
    faulty = recorded != total or (ran is not None and (report["tasks_lost"] or report["tasks_duplicated"]))
    return 1 if faulty else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["purge", "drop", "worker", "run"])
    parser.add_argument("--executions", type=int, default=50)
    parser.add_argument("--leaves", type=int, default=20)
    parser.add_argument("--max-parallel", type=int, default=1)
    # The worker's prefork processes; for `run`, only recorded in its report.
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if min(args.executions, args.leaves, args.max_parallel, args.concurrency) < 1:
        parser.error("--executions, --leaves, --max-parallel and --concurrency must be at least 1")
    if args.mode == "purge":
        app.control.purge()
    elif args.mode == "drop":
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            channel.queue_delete(app.conf.task_default_queue)
            channel.exchange_delete(app.conf.task_default_queue)
    elif args.mode == "worker":
        app.worker_main(
            [
                "worker",
                "--loglevel=WARNING",
                "--pool=prefork",
                f"--concurrency={args.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=bench-{os.getpid()}@%h",
            ]
        )
    else:
        sys.exit(run(args.executions, args.leaves, args.max_parallel, args.concurrency, args.json))
