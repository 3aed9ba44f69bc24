//! Live updates: a compact message per committed change, on `planexec.updates.<execution_id>`.
//!
//! Core NATS (not JetStream): a live view that misses one reloads the execution from the API.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::execution::{BlockedReason, CurrentTask, ExecutionStatus, TaskStatus};
use crate::{Id, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecutionUpdate {
    pub execution_id: Id,
    /// The execution's version after the change; a gap means a missed update.
    pub version: i64,
    pub status: ExecutionStatus,
    pub progress: f64,
    pub current_task: Option<CurrentTask>,
    pub blocked_reason: Option<BlockedReason>,
    /// The tasks whose status changed.
    pub tasks: Vec<TaskUpdate>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskUpdate {
    pub id: Id,
    pub wbs: String,
    pub status: TaskStatus,
    pub attempt: u32,
    pub progress: f64,
}
