//! `GET /api/admin/metrics`: what happened over a window, computed from the database.
//!
//! Every figure is over the window `[since, until]` unless it says "now". Durations are in
//! seconds; a figure with nothing to measure is `null` (no finished execution: no success rate).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AdminMetrics {
    pub since: Timestamp,
    pub until: Timestamp,
    pub executions: ExecutionFigures,
    pub durations: Durations,
    pub errors: ErrorFigures,
    pub agents: AgentFigures,
    /// The newest errors (failed attempts, time-outs, rejected reports), newest first.
    pub recent_errors: Vec<RecentError>,
}

/// Executions created or changed in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecutionFigures {
    /// Executions created or updated in the window.
    pub total: i64,
    /// Those executions by their status now (`COMPLETED`, `BLOCKED`, ...).
    pub by_status: BTreeMap<String, i64>,
    /// Executions that reached COMPLETED, FAILED or CANCELLED in the window.
    pub finished: i64,
    /// COMPLETED among `finished`, from 0 to 1; `null` when none finished.
    pub success_rate: Option<f64>,
}

/// Wall-clock durations of what finished in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Durations {
    /// Started to COMPLETED, per execution.
    pub execution_seconds: DurationStats,
    /// Started to completed, per leaf task (a task without subtasks, or a subtask), last attempt.
    pub task_seconds: DurationStats,
}

/// Count, mean and percentiles of a set of durations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DurationStats {
    pub count: i64,
    pub avg: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// What went wrong in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorFigures {
    /// Agents' reports recorded in the window (applied or rejected).
    pub agent_events: i64,
    /// Rejected reports by reason code (`stale_attempt`, `not_holder`, ...).
    pub rejected_events: BTreeMap<String, i64>,
    /// Rejected reports over all reports, from 0 to 1; `null` when there were none.
    pub rejection_rate: Option<f64>,
    /// Messages that could not be read at all.
    pub dead_letters: i64,
    /// Attempts an agent reported failed.
    pub task_failures: i64,
    /// Attempts whose lease ran out.
    pub timeouts: i64,
    /// Retries scheduled after a failure or a time-out.
    pub retries: i64,
    /// Tasks given up on (no attempt left, or a failure that cannot succeed).
    pub gave_up: i64,
    /// Failed attempts (reported or timed out) over finished attempts, from 0 to 1.
    pub task_error_rate: Option<f64>,
}

/// Agents now, and what each did in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentFigures {
    pub total: i64,
    /// Online now.
    pub online: i64,
    /// Offline now.
    pub offline: i64,
    /// Holding at least one task now (dispatched or running).
    pub busy: i64,
    pub per_agent: Vec<AgentActivity>,
}

/// One agent's work in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentActivity {
    pub agent_id: Id,
    pub name: String,
    /// `online` or `offline`, now.
    pub status: String,
    /// Tasks it reported complete.
    pub completed: i64,
    /// Attempts it reported failed.
    pub failed: i64,
}

/// One error, with where it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecentError {
    pub at: Timestamp,
    pub execution_id: Id,
    pub task_id: Option<Id>,
    pub agent_id: Option<Id>,
    /// The history event type: `task_failed`, `task_timed_out`, `task_gave_up`, or the type of
    /// a rejected report.
    pub kind: String,
    /// The error an agent reported, or why a report was rejected.
    pub message: Option<String>,
}
