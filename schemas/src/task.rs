//! What the coordinator hands to an agent: assignments and cancels, on `planexec.tasks.<agent_id>`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Id, Timestamp};

// Only the wire shape, as an agent reads it in its assignment: the policy itself, with its
// defaults and its arithmetic, is the coordinator's (`planexec_coordinator::machine::retry`).
/// How often and how patiently a failed leaf is tried again.
///
/// The wait before attempt `n + 1` after `n` failures is
/// `min(initial_backoff_seconds * multiplier^(n-1), max_backoff_seconds)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; after the last failure the execution is BLOCKED.
    pub max_attempts: u32,
    pub initial_backoff_seconds: f64,
    pub multiplier: f64,
    pub max_backoff_seconds: f64,
}

/// The WBS number and title of a node around a leaf, for the agent's context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskContext {
    pub wbs: String,
    pub title: String,
}

/// One leaf handed to one agent for one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskAssignment {
    pub execution_id: Id,
    pub task_id: Id,
    /// Fencing token: name it in every event about this task.
    pub attempt: u32,
    pub plan_id: Id,
    pub wbs: String,
    pub title: String,
    pub description: String,
    /// The capability the agent must apply.
    pub capability: String,
    /// Capability-specific input (recipients, phone numbers, file names, ...).
    pub params: Value,
    pub resources_needed: Vec<String>,
    /// The task's own parent (for a subtask) and its phase.
    pub parent: Option<TaskContext>,
    pub phase: Option<TaskContext>,
    /// How long the agent may work on it once started before it counts as timed out.
    pub timeout_seconds: u32,
    pub retry_policy: RetryPolicy,
    pub dispatched_at: Timestamp,
}

impl TaskAssignment {
    /// JetStream message id of this assignment: the same leaf and attempt are published once.
    pub fn message_id(&self) -> String {
        format!("{}.{}", self.task_id, self.attempt)
    }
}

/// The coordinator tells an agent to stop working on a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskCancel {
    pub execution_id: Id,
    pub task_id: Id,
    pub attempt: u32,
    pub reason: String,
}

/// A message on an agent's task subject, tagged by `type`.
// A wire type built once per message: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    Task(TaskAssignment),
    Cancel(TaskCancel),
}

impl AgentMessage {
    /// JetStream message id, so that re-publishing after a crash is dropped as a duplicate.
    pub fn message_id(&self) -> String {
        match self {
            Self::Task(t) => t.message_id(),
            Self::Cancel(c) => format!("cancel.{}.{}", c.task_id, c.attempt),
        }
    }
}
