//! Executions: one run of a plan, and the status enums the state machine moves between.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Id, Timestamp};

/// The life of an execution. See `coordinator::machine` for the transitions.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Accepted; its tasks are not yet materialised from the plan.
    Created,
    /// Tasks materialised; nothing dispatched yet.
    Queued,
    /// At least one task has been dispatched and the execution is making progress.
    Running,
    /// An operator paused it: no new dispatch; running tasks may finish.
    Paused,
    /// Something stops progress; `blocked_reason` says what.
    Blocked,
    /// The plan's decomposition confidence is too low; an operator must approve it.
    NeedsReview,
    Completed,
    Failed,
    Cancelled,
}

impl ExecutionStatus {
    pub const ALL: [Self; 9] = [
        Self::Created,
        Self::Queued,
        Self::Running,
        Self::Paused,
        Self::Blocked,
        Self::NeedsReview,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Blocked => "BLOCKED",
            Self::NeedsReview => "NEEDS_REVIEW",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }

    /// No transition leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The life of one task or subtask of an execution.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for the tasks it depends on.
    Pending,
    /// Could run now; waiting for capacity, an agent, or the execution to resume.
    Ready,
    /// Published to an agent's subject; the agent has not started it yet.
    Dispatched,
    Running,
    /// Failed; will be dispatched again at `next_attempt_at`.
    RetryWait,
    Completed,
    /// Failed for good (retries spent or the agent gave up).
    Failed,
    Cancelled,
    /// An operator skipped it.
    Skipped,
}

impl TaskStatus {
    pub const ALL: [Self; 9] = [
        Self::Pending,
        Self::Ready,
        Self::Dispatched,
        Self::Running,
        Self::RetryWait,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Dispatched => "dispatched",
            Self::Running => "running",
            Self::RetryWait => "retry_wait",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Done for the purpose of dependencies and progress.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Completed | Self::Skipped)
    }

    /// Handed to an agent and not finished.
    pub fn is_in_flight(self) -> bool {
        matches!(self, Self::Dispatched | Self::Running)
    }

    /// Nothing will happen to it any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Skipped)
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which agents may receive an execution's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum RoutingPolicy {
    /// Only the execution's own agent.
    #[default]
    Agent,
    /// Any online agent with the task's capability (the execution's agent first).
    AnyCapable,
}

impl RoutingPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::AnyCapable => "any_capable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(Self::Agent),
            "any_capable" => Some(Self::AnyCapable),
            _ => None,
        }
    }
}

/// Why an execution is BLOCKED; machine-readable, stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockedReason {
    /// A task failed on every attempt its retry policy allows.
    RetriesExhausted,
    /// An agent reported that a task cannot succeed (a give-up error).
    TaskFailed,
    /// The agent holding or due to receive a task shows no sign of life.
    AgentOffline,
    /// No registered agent has the capability a ready task needs.
    NoCapableAgent,
}

impl BlockedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetriesExhausted => "retries_exhausted",
            Self::TaskFailed => "task_failed",
            Self::AgentOffline => "agent_offline",
            Self::NoCapableAgent => "no_capable_agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "retries_exhausted" => Some(Self::RetriesExhausted),
            "task_failed" => Some(Self::TaskFailed),
            "agent_offline" => Some(Self::AgentOffline),
            "no_capable_agent" => Some(Self::NoCapableAgent),
            _ => None,
        }
    }
}

/// The leaf an execution is working on (the first in flight, in order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CurrentTask {
    pub id: Id,
    pub wbs: String,
    pub title: String,
}

/// An execution as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Execution {
    pub id: Id,
    pub plan_id: Id,
    /// The agent the execution was created for.
    pub agent_id: Id,
    pub status: ExecutionStatus,
    /// Percent of leaves done (completed or skipped), 0..100; never goes backwards.
    pub progress: f64,
    pub current_task: Option<CurrentTask>,
    pub blocked_reason: Option<BlockedReason>,
    /// Human-readable detail of the block (which task, which agent).
    pub blocked_detail: Option<String>,
    pub max_parallel: u32,
    pub routing: RoutingPolicy,
    /// Leaves in total and done.
    pub leaves_total: u32,
    pub leaves_done: u32,
    /// Bumped by every committed change; a cheap way to see that something moved.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// When the execution's events moved to the archive (it ended longer ago than the
    /// retention): read them with `GET /api/executions/{id}/events?archived=true`. `null` while
    /// they are in the live history.
    #[serde(default)]
    pub events_archived_at: Option<Timestamp>,
}

/// A leaf or a task of an execution (`GET /api/executions/{id}/tasks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecutionTask {
    pub id: Id,
    pub execution_id: Id,
    /// The task of the plan this one runs.
    pub plan_task_id: Id,
    pub wbs: String,
    pub title: String,
    pub status: TaskStatus,
    /// Whether this task is handed to agents itself (it has no subtasks).
    pub is_leaf: bool,
    pub capability: Option<String>,
    /// Fencing token: bumped at every dispatch; events naming an older attempt are rejected.
    pub attempt: u32,
    /// Failed or timed-out attempts so far.
    pub failures: u32,
    pub max_attempts: u32,
    pub assigned_agent_id: Option<Id>,
    pub progress: f64,
    pub lease_deadline: Option<Timestamp>,
    pub next_attempt_at: Option<Timestamp>,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub subtasks: Vec<ExecutionSubtask>,
}

/// A level-3 leaf of an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecutionSubtask {
    pub id: Id,
    pub task_id: Id,
    pub plan_subtask_id: Id,
    pub wbs: String,
    pub title: String,
    pub status: TaskStatus,
    pub capability: Option<String>,
    pub attempt: u32,
    pub failures: u32,
    pub max_attempts: u32,
    pub assigned_agent_id: Option<Id>,
    pub progress: f64,
    pub lease_deadline: Option<Timestamp>,
    pub next_attempt_at: Option<Timestamp>,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}
