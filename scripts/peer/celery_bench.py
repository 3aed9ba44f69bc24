"""The planexec loadgen workload, run on Celery, for a side-by-side comparison.

Shape: EXECUTIONS chains of LEAVES no-op tasks, each chain in strict order (like
`planexec loadgen --max-parallel 1`). Durability is set to match planexec's:
RabbitMQ with persistent messages and late acks (a task is acked after it ran),
every task's state (STARTED, then SUCCESS) written to PostgreSQL.

    python celery_bench.py purge    # drop tasks an interrupted run left in RabbitMQ
    python celery_bench.py worker --concurrency 8
    python celery_bench.py run --executions 100 --leaves 20
"""

import argparse
import os
import statistics
import sys
import time
import uuid

from celery import Celery, chain
from sqlalchemy import create_engine, text

BROKER = os.environ.get("PEER_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
DATABASE = os.environ["PEER_DATABASE_URL"]  # postgresql://user@host/db

app = Celery("celery_bench", broker=BROKER, backend="db+" + DATABASE)
app.conf.update(
    task_acks_late=True,
    task_track_started=True,
    task_default_delivery_mode="persistent",
    worker_prefetch_multiplier=4,
    result_extended=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="noop")
def noop(_previous, execution, index):
    return index


def percentiles(values):
    values = sorted(values)

    def at(q):
        return values[min(len(values) - 1, int(q * len(values)))]

    return statistics.median(values), at(0.95), at(0.99), values[-1]


def run(executions, leaves):
    engine = create_engine(DATABASE)
    submitted = {}
    last_ids = {}
    start = time.time()
    for e in range(executions):
        ids = [str(uuid.uuid4()) for _ in range(leaves)]
        steps = [noop.si(None, e, 0).set(task_id=ids[0])]
        steps += [noop.s(e, i).set(task_id=ids[i]) for i in range(1, leaves)]
        submitted[ids[-1]] = time.time()
        last_ids[ids[-1]] = e
        chain(*steps).apply_async()
    query = text(
        "select task_id, date_done from celery_taskmeta "
        "where status = 'SUCCESS' and task_id = any(:ids)"
    )
    done = {}
    while len(done) < executions:
        time.sleep(0.05)
        with engine.connect() as conn:
            for task_id, date_done in conn.execute(query, {"ids": list(last_ids)}):
                done[task_id] = date_done.timestamp()
        if time.time() - start > 600:
            sys.exit(f"celery_bench: only {len(done)} of {executions} chains finished in 600 s")
    finish = max(done.values())
    wall = finish - start
    total = executions * leaves
    durations = [(done[t] - submitted[t]) * 1000 for t in last_ids]
    p50, p95, p99, top = percentiles(durations)
    print(f"{executions} chains × {leaves} tasks = {total} tasks on Celery in {wall:.2f} s")
    print(f"  throughput        {total / wall:.0f} tasks/s")
    print(
        f"  execution         p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"p99 {p99:.1f} ms, max {top:.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["purge", "worker", "run"])
    parser.add_argument("--executions", type=int, default=50)
    parser.add_argument("--leaves", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.mode == "purge":
        app.control.purge()
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
        run(args.executions, args.leaves)
