//! loadgen's report: the figures of a run, as JSON (`--json`) or as lines for a terminal.

use serde::Serialize;

use super::baseline::Baseline;
use super::latency::Spread;
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
    pub tasks: usize,
    pub agents: usize,
    pub wall_seconds: f64,
    /// Completed tasks (from the history) per second of wall time.
    pub tasks_per_second: f64,
    /// Agent events recorded per second (each task: started + complete).
    pub agent_events_per_second: f64,
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

impl Report {
    /// Whether the history shows work lost or done twice.
    pub fn is_faulty(&self) -> bool {
        self.verified.tasks_lost > 0 || self.verified.tasks_duplicated > 0
    }

    pub fn print(&self) {
        println!(
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
        println!(
            "  throughput        {:.0} tasks/s ({:.0} agent events/s){}",
            self.tasks_per_second,
            self.agent_events_per_second,
            if self.timed_out { "; TIMED OUT" } else { "" }
        );
        let v = &self.verified;
        println!(
            "  history           {} of {} tasks completed, {} lost, {} duplicated, {} events rejected; {} redeliveries",
            v.tasks_completed,
            v.tasks_expected,
            v.tasks_lost,
            v.tasks_duplicated,
            v.events_rejected,
            self.agent_redeliveries
        );
        let spread = |name: &str, s: &Option<Spread>| {
            if let Some(s) = s {
                println!(
                    "  {name:<17} p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                    s.p50, s.p95, s.p99, s.max
                );
            }
        };
        spread("dispatch→agent", &self.dispatch_to_agent_ms);
        spread("dispatch→done", &self.completion_ms);
        spread("execution", &self.execution_ms);
        spread("API", &self.api_ms);
        if let Some(b) = &self.baseline {
            println!("  baseline on this machine:");
            println!(
                "    PostgreSQL  {:.0} single-row commits/s, {:.0} rows/s in 256-row transactions",
                b.postgres_single_row_commits_per_second, b.postgres_batched_rows_per_second
            );
            println!(
                "    JetStream   {:.0} publishes/s (acks awaited, ≤1000 pending), {:.0} consume+ack/s",
                b.jetstream_publish_per_second, b.jetstream_consume_ack_per_second
            );
        }
    }
}
