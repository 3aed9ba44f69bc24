//! HTTP request and response bodies of the gateway (`/api/...`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agent::Agent;
use crate::command::ResolveAction;
use crate::event::{AgentEventBody, Disposition, ExecutionEvent};
use crate::execution::{Execution, ExecutionStatus, RoutingPolicy};
use crate::field_error::FieldError;
use crate::plan::Plan;
use crate::task::{AgentMessage, TaskAssignment};
use crate::{Id, Timestamp};

/// `POST /api/agents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgentRequest {
    /// 1 to 200 characters, not only spaces or zero-width characters.
    #[schemars(length(min = 1, max = 200), regex(pattern = crate::validate::VISIBLE_TEXT))]
    pub name: String,
    /// Free text up to 64 characters; `assistant` when absent.
    #[serde(default = "default_role")]
    #[schemars(length(max = 64))]
    pub role: String,
    /// 1 to 64 distinct capability names (lower snake case), e.g. `["send_email", "make_phone_call"]`.
    #[schemars(
        length(min = 1, max = 64),
        inner(regex(pattern = r"^[a-z][a-z0-9_]{0,63}$")),
        extend("uniqueItems" = true)
    )]
    pub capabilities: Vec<String>,
}

fn default_role() -> String {
    "assistant".to_owned()
}

/// The registered agent and its token. The token is shown this once and stored only hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RegisteredAgent {
    #[serde(flatten)]
    pub agent: Agent,
    /// `Authorization: Bearer <token>` for the agent's own endpoints.
    pub token: String,
    /// The text of a NATS credentials file for this agent alone (allowed only its own events,
    /// heartbeats, task queue and replies); shown this once. `null` when NATS takes no credentials.
    #[serde(default)]
    pub nats_credentials: Option<String>,
}

/// `PATCH /api/agents/{agent_id}`: what is present changes, what is absent stays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgentRequest {
    /// 1 to 200 characters, not only spaces or zero-width characters.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200), regex(pattern = crate::validate::VISIBLE_TEXT))]
    pub name: Option<String>,
    /// Free text up to 64 characters.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub role: Option<String>,
    /// 1 to 64 distinct capability names (lower snake case); replaces the whole list.
    #[serde(default)]
    #[schemars(
        length(min = 1, max = 64),
        inner(regex(pattern = r"^[a-z][a-z0-9_]{0,63}$")),
        extend("uniqueItems" = true)
    )]
    pub capabilities: Option<Vec<String>>,
}

/// `POST /api/agents/{agent_id}/heartbeat` (the body is optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// How many tasks the agent holds; `0` hands back at once the tasks it no longer has (it
    /// restarted). Leave it out when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 1_000_000))]
    pub in_flight: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentList {
    pub agents: Vec<Agent>,
}

/// `POST /api/executions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExecutionRequest {
    pub plan_id: Id,
    pub agent_id: Id,
    /// How many leaves may be in flight at once, 1 to 64 (default 1: strict WBS order).
    #[serde(default)]
    #[schemars(range(min = 1, max = 64))]
    pub max_parallel: Option<u32>,
    /// `agent` (default) or `any_capable`.
    #[serde(default)]
    pub routing: Option<RoutingPolicy>,
}

/// `PATCH /api/executions/{id}`: `PAUSED`, `RUNNING` (resume) or `CANCELLED`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateExecutionRequest {
    /// `PAUSED`, `RUNNING` or `CANCELLED`; from where the execution is now (else a 409).
    #[schemars(extend("enum" = ["PAUSED", "RUNNING", "CANCELLED"]))]
    pub status: ExecutionStatus,
    /// Why (kept with a cancellation), up to 20000 characters.
    #[serde(default)]
    #[schemars(length(max = 20000))]
    pub reason: Option<String>,
}

/// `POST /api/executions/{id}/reassign`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignRequest {
    pub agent_id: Id,
    /// One leaf; without it, the whole execution moves.
    #[serde(default)]
    pub task_id: Option<Id>,
}

/// `POST /api/executions/{id}/tasks/{task_id}/resolve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveTaskRequest {
    pub action: ResolveAction,
    /// The task's output, only with `"action": "complete"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

/// A page of executions; pass `next_cursor` as `cursor` for the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecutionList {
    pub executions: Vec<Execution>,
    pub next_cursor: Option<String>,
}

/// A page of an execution's history, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EventList {
    pub events: Vec<ExecutionEvent>,
    pub next_cursor: Option<String>,
}

/// `POST /api/executions/{id}/events`: an agent reports an event about a task it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportEventRequest {
    /// Reuse it when re-sending; made by the gateway when absent.
    #[serde(default)]
    pub event_id: Option<Id>,
    pub task_id: Id,
    /// The assignment's attempt (from 1).
    #[schemars(range(min = 1))]
    pub attempt: u32,
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
    /// An agent-defined label, up to 64 characters.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub status: Option<String>,
    #[serde(flatten)]
    pub body: AgentEventBody,
}

/// What the agent should do after reporting.
// A wire type built once per answer: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NextStep {
    /// Work on this next (it was already taken off the agent's queue).
    Task { task: TaskAssignment },
    /// The execution is finished; nothing more will come from it.
    ExecutionComplete,
    /// Keep working, or poll `GET /api/agents/{id}/work` for more.
    Poll { retry_after_seconds: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportEventResponse {
    pub event_id: Id,
    pub disposition: Disposition,
    pub reason: Option<String>,
    pub execution_status: ExecutionStatus,
    pub progress: f64,
    pub next: NextStep,
}

/// `GET /api/agents/{id}/work`: a task or a cancel, tagged by `type`.
pub type WorkItem = AgentMessage;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanList {
    pub plans: Vec<Plan>,
    pub next_cursor: Option<String>,
}

/// `PUT /api/plans/{id}/tasks/{task}`: an operator's correction of one leaf (one field or more).
///
/// At least one field must be given and not null; null means "leave it".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    {"required": ["capability"], "properties": {"capability": {"type": "string"}}},
    {"required": ["params"], "properties": {"params": {"not": {"type": "null"}}}},
    {"required": ["timeout_seconds"], "properties": {"timeout_seconds": {"type": "integer"}}},
    {"required": ["max_attempts"], "properties": {"max_attempts": {"type": "integer"}}}
]))]
pub struct UpdatePlanTaskRequest {
    #[serde(default)]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,63}$"))]
    pub capability: Option<String>,
    #[serde(default)]
    pub params: Option<Value>,
    /// 1 second to one week.
    #[serde(default)]
    #[schemars(range(min = 1, max = 604800))]
    pub timeout_seconds: Option<u32>,
    /// 1 to 20.
    #[serde(default)]
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Readiness {
    pub database: bool,
    pub nats: bool,
}

/// An error answer, RFC 9457 `application/problem+json`.
///
/// `type` is stable per kind of error (`https://planexec.dev/problems/<kind>`); `detail` says
/// what was wrong and what to do. Extension members appear only for the kinds that have them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Field-level errors of a 422.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Of an invalid transition (409): where the execution is and where it may go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_status: Option<ExecutionStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<ExecutionStatus>>,
}

// ---------------------------------------------------------------------------------------------
// Conductor-style polling, for existing workers (`/api/tasks/...`).
// ---------------------------------------------------------------------------------------------

/// A task as Conductor's `GET /api/tasks/poll/{taskType}` returns it.
///
/// `taskId` is `<task_id>.<attempt>`: in Conductor every retry is a new task id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConductorTask {
    pub task_id: String,
    pub task_type: String,
    /// The task type again, as Conductor's task definition name (the SDKs route by it).
    pub task_def_name: String,
    pub workflow_instance_id: Id,
    /// Always `planexec`: the workflow is a planexec execution.
    pub workflow_type: String,
    pub reference_task_name: String,
    pub status: String,
    pub input_data: BTreeMap<String, Value>,
    pub output_data: BTreeMap<String, Value>,
    pub retry_count: u32,
    /// How many times this task (this attempt) was handed out: 1, then one more per callback.
    pub poll_count: u32,
    /// The delay the worker asked for with its last `IN_PROGRESS`, 0 before.
    pub callback_after_seconds: u64,
    pub response_timeout_seconds: u32,
    /// When it was dispatched and when first handed out, in milliseconds since 1970.
    pub scheduled_time: i64,
    pub start_time: i64,
    pub update_time: i64,
    /// The worker as it named itself in the poll (free text; identity comes from the token).
    pub worker_id: String,
}

/// `POST /api/token`: Conductor's key id (the agent id) and key secret (the agent token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConductorTokenRequest {
    #[schemars(length(max = 200))]
    pub key_id: String,
    #[schemars(length(max = 1000))]
    pub key_secret: String,
}

/// The token a Conductor SDK then sends as `X-Authorization` (the agent token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConductorToken {
    pub token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConductorStatus {
    InProgress,
    Completed,
    Failed,
    FailedWithTerminalError,
}

/// The result a Conductor worker posts to `POST /api/tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConductorTaskResult {
    pub workflow_instance_id: Id,
    /// `<task_id>.<attempt>`, as the poll gave it.
    #[schemars(regex(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\.[0-9]{1,9}$"
    ))]
    pub task_id: String,
    pub status: ConductorStatus,
    #[serde(default)]
    pub output_data: BTreeMap<String, Value>,
    /// Up to 20000 characters.
    #[serde(default)]
    #[schemars(length(max = 20000))]
    pub reason_for_incompletion: Option<String>,
    /// The reporting worker as it names itself (free text; identity comes from the token).
    #[serde(default)]
    #[schemars(length(max = 1000))]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub logs: Vec<ConductorLog>,
    /// With `IN_PROGRESS`: offer the task to the worker again after this many seconds.
    #[serde(default)]
    #[schemars(range(max = 604800))]
    pub callback_after_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConductorLog {
    /// Up to 20000 characters; a blank line is dropped.
    #[schemars(length(max = 20000))]
    pub log: String,
    #[serde(default)]
    pub created_time: Option<i64>,
}
