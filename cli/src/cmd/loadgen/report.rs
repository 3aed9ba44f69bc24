//! loadgen's report: the figures of a run, as JSON (`--json`) or as lines for a terminal.

use std::time::Duration;

use serde::Serialize;

use super::args::Args;

use super::baseline::Baseline;
use super::latency::Spread;
use super::steady::Steady;
use super::verify::Verified;

#[derive(Debug, Serialize)]
pub struct Report {
    /// `closed` (every execution created at once) or `open` (Poisson arrivals at `offered_rate`).
    pub mode: &'static str,
    /// Tasks per second offered (open loop only).
    pub offered_rate: Option<f64>,
    /// `nats` or `http`.
    pub transport: String,
    pub executions: usize,
    /// Executions planexec refused to create (open loop: the load goes on without them; every
    /// other figure counts the created ones).
    pub executions_refused: usize,
    pub tasks: usize,
    pub agents: usize,
    /// Tasks per execution.
    pub leaves: usize,
    /// Each execution's tasks in flight at once.
    pub max_parallel: u32,
    /// Tasks each agent works on at once.
    pub concurrency: usize,
    /// `task_progress` events each task reports before it completes.
    pub progress_per_task: u32,
    pub wall_seconds: f64,
    /// Completed tasks (from the history) per second of wall time.
    pub tasks_per_second: f64,
    /// Agent events per second of wall time (each completed task: started, its progress
    /// reports, complete).
    pub agent_events_per_second: f64,
    /// Events the histories hold (the coordinator's dispatches too), per second of wall time.
    pub history_events_per_second: f64,
    /// Open loop: offered and completed rates over one window of the arrivals.
    pub steady: Option<Steady>,
    /// Whether every execution completed before `--timeout`.
    pub timed_out: bool,
    #[serde(flatten)]
    pub verified: Verified,
    /// Deliveries an agent received again for a task it had already handled.
    pub agent_redeliveries: u64,
    pub dispatch_p50_ms: Option<f64>,
    pub dispatch_p99_ms: Option<f64>,
    pub completion_p99_ms: Option<f64>,
    pub api_p99_ms: Option<f64>,
    /// From a dispatch's commit to the agent holding the assignment.
    pub dispatch_to_agent_ms: Option<Spread>,
    /// From a dispatch's commit to the commit of the task's completion (from the history).
    pub completion_ms: Option<Spread>,
    /// One execution from its first dispatch to its completion.
    pub execution_ms: Option<Spread>,
    /// Operator API calls during the run (creating executions, reading one).
    pub api_ms: Option<Spread>,
    pub baseline: Option<Baseline>,
}

/// What a run measured, before it becomes a report.
pub struct Measured {
    pub wall: Duration,
    pub timed_out: bool,
    pub verified: Verified,
    pub steady: Option<Steady>,
    pub redeliveries: u64,
    pub refused: usize,
    pub dispatch: Option<Spread>,
    pub completion: Option<Spread>,
    pub execution: Option<Spread>,
    pub api: Option<Spread>,
    pub baseline: Option<Baseline>,
}

impl Report {
    pub fn new(args: &Args, m: Measured) -> Self {
        let seconds = m.wall.as_secs_f64();
        let completed = m.verified.tasks_completed as f64;
        Self {
            mode: if args.rate.is_some() {
                "open"
            } else {
                "closed"
            },
            offered_rate: args.rate,
            transport: args.transport.clone(),
            executions: args.executions - m.refused,
            executions_refused: m.refused,
            tasks: (args.executions - m.refused) * args.leaves,
            agents: args.agents,
            leaves: args.leaves,
            max_parallel: args.max_parallel,
            concurrency: args.concurrency,
            progress_per_task: args.progress,
            wall_seconds: seconds,
            tasks_per_second: completed / seconds,
            agent_events_per_second: completed * f64::from(2 + args.progress) / seconds,
            history_events_per_second: m.verified.events_recorded as f64 / seconds,
            steady: m.steady,
            timed_out: m.timed_out,
            agent_redeliveries: m.redeliveries,
            dispatch_p50_ms: m.dispatch.map(|s| s.p50),
            dispatch_p99_ms: m.dispatch.map(|s| s.p99),
            completion_p99_ms: m.completion.map(|s| s.p99),
            api_p99_ms: m.api.map(|s| s.p99),
            dispatch_to_agent_ms: m.dispatch,
            completion_ms: m.completion,
            execution_ms: m.execution,
            api_ms: m.api,
            verified: m.verified,
            baseline: m.baseline,
        }
    }

    /// Whether the history shows work lost or done twice.
    pub fn is_faulty(&self) -> bool {
        self.verified.tasks_lost > 0 || self.verified.tasks_duplicated > 0
    }

    pub fn print(&self) {
        say!(
            "{} executions × {} tasks = {} tasks over {} {} agents in {:.2} s ({} loop{})",
            self.executions,
            self.tasks / self.executions.max(1),
            self.tasks,
            self.agents,
            self.transport,
            self.wall_seconds,
            self.mode,
            self.offered_rate
                .map(|r| format!(", offered {r:.0} tasks/s"))
                .unwrap_or_default(),
        );
        if self.executions_refused > 0 {
            say!(
                "  refused           {} executions (planexec answered with an error; not counted below)",
                self.executions_refused
            );
        }
        say!(
            "  throughput        {:.0} tasks/s ({:.0} agent events/s, {:.0} history events/s){}",
            self.tasks_per_second,
            self.agent_events_per_second,
            self.history_events_per_second,
            if self.timed_out { "; TIMED OUT" } else { "" }
        );
        if let Some(s) = &self.steady {
            say!(
                "  steady state      {:.0} tasks/s completed of {:.0} offered ({:.2}) over {:.1} s",
                s.completed_tasks_per_second,
                s.offered_tasks_per_second,
                s.ratio,
                s.window_seconds
            );
        }
        let v = &self.verified;
        say!(
            "  history           {} of {} tasks completed, {} lost, {} duplicated, {} events rejected, {} progress reports; {} redeliveries",
            v.tasks_completed,
            v.tasks_expected,
            v.tasks_lost,
            v.tasks_duplicated,
            v.events_rejected,
            v.progress_recorded,
            self.agent_redeliveries
        );
        let spread = |name: &str, s: &Option<Spread>| {
            if let Some(s) = s {
                say!(
                    "  {name:<17} p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                    s.p50,
                    s.p95,
                    s.p99,
                    s.max
                );
            }
        };
        spread("dispatch→agent", &self.dispatch_to_agent_ms);
        spread("dispatch→done", &self.completion_ms);
        spread("execution", &self.execution_ms);
        spread("API", &self.api_ms);
        if let Some(b) = &self.baseline {
            say!("  baseline on this machine:");
            say!(
                "    PostgreSQL  {:.0} single-row commits/s, {:.0} rows/s in 256-row transactions",
                b.postgres_single_row_commits_per_second,
                b.postgres_batched_rows_per_second
            );
            say!(
                "    JetStream   {:.0} publishes/s (acks awaited, ≤1000 pending), {:.0} consume+ack/s",
                b.jetstream_publish_per_second,
                b.jetstream_consume_ack_per_second
            );
        }
    }
}
