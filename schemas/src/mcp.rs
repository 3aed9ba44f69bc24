//! The tools of planexec's MCP server: what an AI assistant sends and what it gets back.
//!
//! An assistant with an agent token works through `next_task`, `report_progress`,
//! `complete_task` and `fail_task`; one with the operator token through the execution tools.
//! The input schemas MCP clients see are generated from these types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Id;
use crate::command::ResolveAction;
use crate::execution::{ExecutionStatus, TaskStatus};
use crate::task::TaskContext;

/// `next_task`: claim the next task assigned to this agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NextTaskInput {
    /// Seconds to wait for a task when none is ready (0..30, default 10).
    #[serde(default)]
    #[schemars(range(max = 30))]
    pub wait_seconds: Option<u32>,
}

/// What `next_task` answers: the claimed task, or none yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NextTaskOutput {
    /// The task now started by this agent; absent when none came within the wait.
    pub task: Option<ClaimedTask>,
    /// What to do next, in words.
    pub message: String,
}

/// A task claimed through `next_task`: it counts as started, so its timeout runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClaimedTask {
    pub execution_id: Id,
    pub task_id: Id,
    /// Name it in `report_progress`, `complete_task` and `fail_task`.
    pub attempt: u32,
    pub plan_id: Id,
    pub wbs: String,
    pub title: String,
    pub description: String,
    /// The capability the task needs (send_email, draft_document, ...).
    pub capability: String,
    /// Capability-specific input.
    pub params: Value,
    pub resources_needed: Vec<String>,
    /// The phase the task belongs to.
    pub phase: Option<TaskContext>,
    /// The task a subtask belongs to.
    pub parent: Option<TaskContext>,
    /// What the tasks it depends on produced.
    pub dependency_outputs: Vec<DependencyOutput>,
    /// How the result will be judged, when the plan says.
    pub acceptance_criteria: Option<Value>,
    /// Seconds the task may take from now before it counts as timed out.
    pub timeout_seconds: u32,
}

/// The output of a task the claimed one depends on (or of one of its subtasks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DependencyOutput {
    pub task_id: Id,
    pub wbs: String,
    pub title: String,
    pub status: TaskStatus,
    /// Its `complete_task` output; absent while it has none.
    pub output: Option<Value>,
}

/// `report_progress`: partial progress on a claimed task (also a sign of life).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportProgressInput {
    pub execution_id: Id,
    pub task_id: Id,
    #[schemars(range(min = 1))]
    pub attempt: u32,
    /// Percentage of this task done, 0..100.
    #[schemars(range(min = 0, max = 100))]
    pub progress: f64,
    #[serde(default)]
    #[schemars(length(max = 20000))]
    pub message: Option<String>,
}

/// `complete_task`: the claimed task is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteTaskInput {
    pub execution_id: Id,
    pub task_id: Id,
    #[schemars(range(min = 1))]
    pub attempt: u32,
    /// The task's result, e.g. `{"summary": "...", "document": "..."}`; later tasks see it.
    pub output: Map<String, Value>,
}

/// `fail_task`: the attempt failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailTaskInput {
    pub execution_id: Id,
    pub task_id: Id,
    #[schemars(range(min = 1))]
    pub attempt: u32,
    /// What went wrong.
    #[schemars(length(min = 1, max = 20000))]
    pub error: String,
    /// `false` when retrying cannot help (the task then waits for an operator); default true.
    #[serde(default)]
    pub retryable: Option<bool>,
    /// The wished back-off before the next attempt, in seconds (at most a week).
    #[serde(default)]
    #[schemars(range(min = 0, max = 604800))]
    pub retry_after_seconds: Option<f64>,
}

/// `list_executions`: executions, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListExecutionsInput {
    #[serde(default)]
    pub status: Option<ExecutionStatus>,
    #[serde(default)]
    pub plan_id: Option<Id>,
    #[serde(default)]
    pub agent_id: Option<Id>,
    /// 1..500, default 50.
    #[serde(default)]
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `get_execution`: one execution and its tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionInput {
    pub execution_id: Id,
}

/// `pause_execution` and `resume_execution`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeExecutionInput {
    pub execution_id: Id,
    /// Why, for the history.
    #[serde(default)]
    #[schemars(length(max = 20000))]
    pub reason: Option<String>,
}

/// `resolve_task`: retry a failed task with a fresh attempt budget, skip it, or mark it complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveTaskInput {
    pub execution_id: Id,
    pub task_id: Id,
    pub action: ResolveAction,
    /// The task's output, only with `"action": "complete"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}
