//! Commands to the coordinator, over NATS request/reply on `planexec.cmd.<verb>`.
//!
//! The coordinator owns every write of execution state; the gateway and the CLI ask it through
//! these. Each command names its reply type, and every reply is a [`Reply`]: the typed result
//! or a typed [`CommandError`].

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Id;
use crate::agent::Agent;
use crate::event::{AgentEvent, Disposition};
use crate::execution::{Execution, ExecutionStatus, RoutingPolicy};
use crate::field_error::FieldError;

/// A request the coordinator answers.
pub trait Command: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The last token of the subject, `planexec.cmd.<VERB>`.
    const VERB: &'static str;
    type Reply: Serialize + DeserializeOwned + Send + 'static;
    /// Whether the same command may be sent again when its answer was lost (a coordinator that
    /// died after taking it): sending it twice has the effect of sending it once.
    const RETRY_SAFE: bool = false;
}

/// Create an execution of a plan for an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CreateExecution {
    /// The id to create the execution under (the gateway picks one per request); the coordinator
    /// picks one when absent. The same command sent again answers with the execution already
    /// created under this id, so a command whose answer was lost can be sent again.
    #[serde(default)]
    pub id: Option<Id>,
    pub plan_id: Id,
    pub agent_id: Id,
    #[serde(default)]
    pub max_parallel: Option<u32>,
    #[serde(default)]
    pub routing: Option<RoutingPolicy>,
}

impl Command for CreateExecution {
    const VERB: &'static str = "create_execution";
    type Reply = Execution;
    const RETRY_SAFE: bool = true;
}

/// Pause (`PAUSED`), resume (`RUNNING`) or cancel (`CANCELLED`) an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateExecutionStatus {
    pub execution_id: Id,
    pub status: ExecutionStatus,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Command for UpdateExecutionStatus {
    const VERB: &'static str = "update_execution_status";
    type Reply = Execution;
}

/// Register an agent. The gateway makes the token and sends only its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RegisterAgent {
    /// The id to register under (its token embeds it, see [`crate::agent::token`]); the
    /// coordinator picks one when absent.
    #[serde(default)]
    pub id: Option<Id>,
    pub name: String,
    pub role: String,
    pub capabilities: Vec<String>,
    /// Hex SHA-256 of the agent's token.
    pub token_hash: String,
}

impl Command for RegisterAgent {
    const VERB: &'static str = "register_agent";
    type Reply = AgentRegistration;
}

/// A registered agent and its NATS credentials, when NATS has authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentRegistration {
    #[serde(flatten)]
    pub agent: Agent,
    /// The text of a NATS credentials file for this agent alone (see `docs/agent_setup.md`);
    /// shown once. `null` when the NATS servers take no credentials.
    #[serde(default)]
    pub nats_credentials: Option<String>,
}

/// Change an agent's name, role or capabilities (what is absent stays).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateAgent {
    pub agent_id: Id,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
}

impl Command for UpdateAgent {
    const VERB: &'static str = "update_agent";
    type Reply = Agent;
}

/// Give an agent a new token (the gateway sends its hash) and new NATS credentials; the old
/// ones stop working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RotateAgentCredentials {
    pub agent_id: Id,
    pub token_hash: String,
}

impl Command for RotateAgentCredentials {
    const VERB: &'static str = "rotate_agent_credentials";
    type Reply = AgentRegistration;
}

/// Delete an agent: its token and NATS credentials stop working, its queue goes, and the tasks
/// it held are looked at again (they block as held by an agent that is gone, until reassigned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeleteAgent {
    pub agent_id: Id,
}

impl Command for DeleteAgent {
    const VERB: &'static str = "delete_agent";
    type Reply = ();
}

/// An event an agent reported over HTTP, forwarded by the gateway after authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportEvent {
    /// The authenticated sender; it must be the task's assignee.
    pub agent_id: Id,
    pub event: AgentEvent,
}

impl Command for ReportEvent {
    const VERB: &'static str = "report_event";
    type Reply = ReportOutcome;
}

/// What became of a reported event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportOutcome {
    pub disposition: Disposition,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub execution_status: ExecutionStatus,
    pub progress: f64,
}

/// Move a task (or every unfinished task of the execution) to another agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reassign {
    pub execution_id: Id,
    /// A leaf; `None` moves the whole execution (its agent and every unfinished leaf).
    #[serde(default)]
    pub task_id: Option<Id>,
    pub agent_id: Id,
}

impl Command for Reassign {
    const VERB: &'static str = "reassign";
    type Reply = Execution;
}

/// Approve a plan that needs review; executions waiting in NEEDS_REVIEW start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovePlan {
    pub plan_id: Id,
}

impl Command for ApprovePlan {
    const VERB: &'static str = "approve_plan";
    type Reply = PlanApproved;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanApproved {
    pub plan_id: Id,
    /// Executions that left NEEDS_REVIEW.
    pub released_executions: u32,
}

/// Retry a failed leaf with a fresh attempt budget, skip it, or mark it complete (work done by
/// hand); the execution resumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResolveTask {
    pub execution_id: Id,
    pub task_id: Id,
    pub action: ResolveAction,
    /// The task's output when `action` is `complete` (an empty object when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolveAction {
    /// A failed task gets a fresh attempt budget and is dispatched again.
    Retry,
    /// The task counts as done without output; its dependants may run.
    Skip,
    /// The task is completed with the given output, as if its agent had reported it.
    Complete,
}

impl Command for ResolveTask {
    const VERB: &'static str = "resolve_task";
    type Reply = Execution;
}

/// A command's answer: the result or a typed error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reply<T> {
    Ok(T),
    Error(CommandError),
}

impl<T> From<Result<T, CommandError>> for Reply<T> {
    fn from(result: Result<T, CommandError>) -> Self {
        match result {
            Ok(value) => Self::Ok(value),
            Err(error) => Self::Error(error),
        }
    }
}

impl<T> From<Reply<T>> for Result<T, CommandError> {
    fn from(reply: Reply<T>) -> Self {
        match reply {
            Reply::Ok(value) => Ok(value),
            Reply::Error(error) => Err(error),
        }
    }
}

/// Why a command was refused. Each kind maps to one HTTP status and problem type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandError {
    NotFound {
        resource: String,
        id: String,
    },
    /// The execution cannot go from `current` to `requested`; `allowed` lists where it can go.
    InvalidTransition {
        current: ExecutionStatus,
        requested: ExecutionStatus,
        allowed: Vec<ExecutionStatus>,
    },
    Invalid {
        errors: Vec<FieldError>,
    },
    Conflict {
        message: String,
    },
    Forbidden {
        message: String,
    },
    /// Execution is switched off (`PLANEXE_EXECUTION_ENABLED=false`).
    Disabled {
        message: String,
    },
    /// The coordinator could not reach its database; try again shortly.
    Unavailable {
        message: String,
    },
    Internal {
        message: String,
    },
}

impl CommandError {
    pub fn not_found(resource: &str, id: impl ToString) -> Self {
        Self::NotFound {
            resource: resource.to_owned(),
            id: id.to_string(),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            errors: vec![FieldError::new(field, message)],
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound { resource, id } => write!(f, "{resource} {id} not found"),
            Self::InvalidTransition {
                current,
                requested,
                allowed,
            } => {
                let allowed: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
                write!(
                    f,
                    "cannot go from {current} to {requested}; from {current} the allowed states are [{}]",
                    allowed.join(", ")
                )
            }
            Self::Invalid { errors } => {
                let parts: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect();
                write!(f, "invalid input: {}", parts.join("; "))
            }
            Self::Conflict { message }
            | Self::Forbidden { message }
            | Self::Disabled { message }
            | Self::Unavailable { message }
            | Self::Internal { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for CommandError {}
