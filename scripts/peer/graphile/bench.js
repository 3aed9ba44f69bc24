#!/usr/bin/env node
// planexec's loadgen workload on graphile-worker, for scripts/bench-peers.
//
// Shape: EXECUTIONS executions of LEAVES no-op jobs, each execution split into MAX_PARALLEL
// strict chains (like `planexec loadgen --max-parallel K` with independent leaves: K of an
// execution's jobs in flight at once). Each job's handler enqueues the next job of its chain
// (helpers.addJob, a committed insert, before the job itself is completed) and records nothing
// else; the last job of a chain inserts one row into peer_bench.done, the chain's durable result.
//
//   node bench.js run --executions 100 --leaves 20 --max-parallel 1 [--concurrency 24]
//
// Environment: PEER_DATABASE_URL (a database of its own: graphile-worker's migrations go into
// its schema `graphile_worker`), PEER_TIMEOUT (seconds, default 600). Prints one JSON object.
//
// The driver (this process) enqueues and waits; the worker runs in a child process (forked,
// `bench.js worker`) so that enqueueing and the worker do not share one event loop, as the
// Celery driver and its workers do not. The worker counts every run of every job in memory and
// reports the counts at the end: lost and duplicated jobs are counted, not assumed.
"use strict";

const { fork } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { Pool } = require("pg");
const { run, runMigrations, makeWorkerUtils } = require("graphile-worker");

const DATABASE = process.env.PEER_DATABASE_URL;
const SCHEMA = "graphile_worker";

function version() {
  const main = require.resolve("graphile-worker");
  const pkg = path.join(path.dirname(main), "..", "package.json");
  return JSON.parse(fs.readFileSync(pkg, "utf8")).version;
}

// graphile-worker's settings for throughput, from its performance page: a local queue that
// fetches (and locks) jobs in batches, and batched completion. Both keep every job at least once
// (a crash leaves the batch's jobs locked until the lock expires, then they run again).
function preset(concurrency) {
  return {
    worker: {
      connectionString: DATABASE,
      schema: SCHEMA,
      concurrentJobs: concurrency,
      maxPoolSize: concurrency + 1,
      // LISTEN/NOTIFY wakes the worker for new jobs; the poll is only the fallback.
      pollInterval: 100,
      localQueue: { size: 500 },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
      logger: undefined,
    },
  };
}

function args(argv) {
  const options = { executions: 50, leaves: 20, maxParallel: 1, concurrency: 24 };
  const names = {
    "--executions": "executions",
    "--leaves": "leaves",
    "--max-parallel": "maxParallel",
    "--concurrency": "concurrency",
  };
  for (let i = 0; i < argv.length; i += 2) {
    const name = names[argv[i]];
    const value = Number(argv[i + 1]);
    if (!name || !Number.isInteger(value) || value < 1) {
      throw new Error(`bench.js: expected ${Object.keys(names).join(" N, ")} N; got ${argv[i]}`);
    }
    options[name] = value;
  }
  return options;
}

// ---- the worker (child process) ----

async function worker(concurrency) {
  const runs = new Map(); // "run:execution:chain:index" -> times the handler ran
  const taskList = {
    noop: async (job, helpers) => {
      const key = `${job.r}:${job.e}:${job.c}:${job.i}`;
      runs.set(key, (runs.get(key) || 0) + 1);
      if (job.i + 1 < job.n) {
        await helpers.addJob("noop", { ...job, i: job.i + 1 });
      } else {
        await helpers.query("insert into peer_bench.done (run, execution, chain) values ($1, $2, $3)", [
          job.r,
          job.e,
          job.c,
        ]);
        process.send({ done: [job.r, job.e, job.c, Date.now()] });
      }
    },
  };
  const { Logger } = require("graphile-worker");
  const quiet = new Logger(() => (level, message) => {
    if (level === "error") console.error(message);
  });
  const options = preset(concurrency);
  options.worker.logger = quiet;
  const runner = await run({ preset: options, taskList, noHandleSignals: true });
  process.on("message", async (message) => {
    if (message.count !== undefined) {
      let distinct = 0;
      let duplicated = 0;
      for (const [key, times] of runs) {
        if (key.startsWith(`${message.count}:`)) {
          distinct += 1;
          duplicated += times - 1;
        }
      }
      process.send({ counted: { distinct, duplicated } });
    } else if (message.stop) {
      await runner.stop();
      process.exit(0);
    }
  });
  process.send({ ready: true });
}

// ---- the driver ----

function percentiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1], count: sorted.length };
}

// Leaves split into `parallel` strict chains, as even as they go.
function chainLengths(leaves, parallel) {
  const k = Math.min(parallel, leaves);
  return Array.from({ length: k }, (_, c) => Math.floor(leaves / k) + (c < leaves % k ? 1 : 0));
}

class Child {
  constructor(concurrency) {
    this.process = fork(__filename, ["worker", String(concurrency)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.listeners = [];
    this.process.on("message", (m) => this.listeners.forEach((f) => f(m)));
    this.exited = new Promise((resolve) => this.process.on("exit", resolve));
  }
  on(f) {
    this.listeners.push(f);
    return () => (this.listeners = this.listeners.filter((g) => g !== f));
  }
  next(key) {
    return new Promise((resolve, reject) => {
      const off = this.on((m) => {
        if (m[key] !== undefined) {
          off();
          resolve(m[key]);
        }
      });
      this.exited.then((code) => reject(new Error(`bench.js: the worker exited (${code})`)));
    });
  }
}

// One run: enqueue every chain's first job, wait for every chain's last one.
async function measure(child, utils, pool, runId, options, timeoutSeconds) {
  const lengths = chainLengths(options.leaves, options.maxParallel);
  const chains = options.executions * lengths.length;
  const submitted = new Array(options.executions);
  const finished = new Map(); // execution -> [chains done, last finish]
  let done = 0;
  let allDone;
  const whenAllDone = new Promise((resolve) => (allDone = resolve));
  const off = child.on((m) => {
    if (!m.done || m.done[0] !== runId) return;
    const [, e, , t] = m.done;
    const [n, last] = finished.get(e) || [0, 0];
    finished.set(e, [n + 1, Math.max(last, t)]);
    done += 1;
    if (done === chains) allDone();
  });
  const start = Date.now();
  const adds = [];
  for (let e = 0; e < options.executions; e++) {
    submitted[e] = Date.now();
    lengths.forEach((n, c) => adds.push(utils.addJob("noop", { r: runId, e, c, i: 0, n })));
  }
  await Promise.all(adds);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`bench.js: only ${done} of ${chains} chains finished in ${timeoutSeconds} s`)),
      timeoutSeconds * 1000,
    );
  });
  const died = child.exited.then((code) => {
    throw new Error(`bench.js: the worker exited (${code}) with ${done} of ${chains} chains done`);
  });
  await Promise.race([whenAllDone, timeout, died]);
  clearTimeout(timer);
  off();
  const finish = Math.max(...[...finished.values()].map(([, t]) => t));
  const wall = (finish - start) / 1000;
  const latencies = [...finished.entries()].map(([e, [, t]]) => t - submitted[e]);
  return { lengths, chains, wall, latencies };
}

// What the database and the worker say happened.
async function check(child, pool, runId, chains) {
  const { rows } = await pool.query("select count(*)::int as n from peer_bench.done where run = $1", [runId]);
  // Completions are batched: the last jobs' rows may take a moment to be deleted.
  let left = 0;
  for (let i = 0; i < 100; i++) {
    const q = await pool.query(`select count(*)::int as n from ${SCHEMA}.jobs where task_identifier = 'noop'`);
    left = q.rows[0].n;
    if (left === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.process.send({ count: runId });
  const counted = await child.next("counted");
  return { chainsRecorded: rows[0].n, jobsLeft: left, ...counted };
}

async function driver(options) {
  if (!DATABASE) throw new Error("bench.js: set PEER_DATABASE_URL");
  const timeoutSeconds = Number(process.env.PEER_TIMEOUT || 600);
  await runMigrations({ connectionString: DATABASE, schema: SCHEMA, logger: undefined });
  const pool = new Pool({ connectionString: DATABASE, max: 2 });
  await pool.query(
    "create schema if not exists peer_bench; " +
      "create table if not exists peer_bench.done (run text not null, execution int not null, " +
      "chain int not null, finished_at timestamptz not null default clock_timestamp(), " +
      "primary key (run, execution, chain))",
  );
  const utils = await makeWorkerUtils({ connectionString: DATABASE, schema: SCHEMA, maxPoolSize: 10 });
  const child = new Child(options.concurrency);
  try {
    await child.next("ready");
    // Warm up (connections, prepared statements, the JIT) before the measured run.
    const warm = `warm-${process.pid}`;
    await measure(child, utils, pool, warm, { executions: 4, leaves: 2, maxParallel: 1 }, timeoutSeconds);
    const runId = `run-${process.pid}-${Date.now()}`;
    const m = await measure(child, utils, pool, runId, options, timeoutSeconds);
    const c = await check(child, pool, runId, m.chains);
    const tasks = options.executions * options.leaves;
    const report = {
      system: "graphile-worker",
      version: version(),
      node: process.version,
      executions: options.executions,
      leaves: options.leaves,
      max_parallel: m.lengths.length,
      concurrency: options.concurrency,
      tasks,
      wall_seconds: m.wall,
      tasks_per_second: tasks / m.wall,
      execution_ms: percentiles(m.latencies),
      tasks_expected: tasks,
      tasks_completed: c.distinct,
      tasks_lost: tasks - c.distinct,
      tasks_duplicated: c.duplicated,
      chains_expected: m.chains,
      chains_recorded: c.chainsRecorded,
      jobs_left: c.jobsLeft,
    };
    process.stdout.write(JSON.stringify(report) + "\n");
    return report.tasks_lost === 0 && report.tasks_duplicated === 0 && c.chainsRecorded === m.chains;
  } finally {
    child.process.send({ stop: true });
    await child.exited;
    await utils.release();
    await pool.end();
  }
}

async function main() {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === "worker") {
    await worker(Number(rest[0]));
  } else if (mode === "run") {
    const ok = await driver(args(rest));
    process.exitCode = ok ? 0 : 1;
  } else {
    throw new Error("usage: bench.js run --executions N --leaves N --max-parallel N [--concurrency N]");
  }
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(2);
});
