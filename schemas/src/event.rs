//! Events: what agents report about their tasks, and the history the coordinator keeps.
//!
//! An agent publishes an [`AgentEvent`] on `planexec.events.<agent_id>.<execution_id>` (or posts
//! it to the gateway). Its `event_id` is the idempotency key: JetStream drops a repeat inside its
//! duplicate window and the database drops it after. The coordinator stores every event it
//! receives, together with what it did itself ([`CoordinatorEvent`]), as [`ExecutionEvent`] rows:
//! the execution's history.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::execution::ExecutionStatus;
use crate::{Id, Timestamp};

/// An event an agent reports about a task it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentEvent {
    /// UUIDv7 chosen by the agent; re-sending the same event must reuse it.
    pub event_id: Id,
    pub execution_id: Id,
    /// The leaf (subtask, or task without subtasks) the event is about.
    pub task_id: Id,
    /// The attempt named in the assignment; an older attempt's events are rejected.
    #[schemars(range(min = 1))]
    pub attempt: u32,
    /// When it happened, by the agent's clock.
    pub timestamp: Timestamp,
    /// Optional agent-defined label of what it is doing ("dialing", "waiting for reply").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub status: Option<String>,
    #[serde(flatten)]
    pub body: AgentEventBody,
}

/// The kinds of event an agent may report, tagged by `event_type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event_type", rename_all = "snake_case")]
pub enum AgentEventBody {
    /// The agent began working on the task.
    TaskStarted {},
    /// Partial progress; `progress` is a percentage of this task, 0..100.
    TaskProgress {
        #[schemars(range(min = 0, max = 100))]
        progress: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = 20000))]
        message: Option<String>,
    },
    /// The task is done; `output` is its result.
    TaskComplete {
        #[serde(default)]
        output: Value,
    },
    /// The attempt failed. `retryable: false` means retrying cannot help (give up).
    TaskFailed {
        #[schemars(length(min = 1, max = 20000))]
        error: String,
        #[serde(default = "default_true")]
        retryable: bool,
        /// The agent's wish for the back-off before the next attempt (at most a week).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 604800))]
        retry_after_seconds: Option<f64>,
    },
    /// The agent hands the task back unfinished (graceful shutdown); it is dispatched again
    /// without counting as a failure.
    TaskReleased {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = 20000))]
        reason: Option<String>,
    },
    /// A log line about the task.
    Log {
        level: LogLevel,
        #[schemars(length(min = 1, max = 20000))]
        message: String,
    },
}

fn default_true() -> bool {
    true
}

impl AgentEventBody {
    /// The `event_type` tag.
    pub fn event_type(&self) -> EventType {
        match self {
            Self::TaskStarted {} => EventType::TaskStarted,
            Self::TaskProgress { .. } => EventType::TaskProgress,
            Self::TaskComplete { .. } => EventType::TaskComplete,
            Self::TaskFailed { .. } => EventType::TaskFailed,
            Self::TaskReleased { .. } => EventType::TaskReleased,
            Self::Log { .. } => EventType::Log,
        }
    }

    /// The payload without its tag, as stored in the `output` column.
    pub fn output(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => {
                map.remove("event_type");
                Value::Object(map)
            }
            _ => Value::Null,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// An agent's sign of life, on `planexec.heartbeats.<agent_id>` (core NATS).
///
/// Heartbeats are never stored as rows: the coordinator keeps the newest per agent in memory
/// and flushes it every few seconds. Any poll, fetch or event counts as one too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Heartbeat {
    pub agent_id: Id,
    pub timestamp: Timestamp,
    /// How many tasks the agent holds (taken and not yet reported finished). `0` says it holds
    /// none: tasks the coordinator still counts as running on it are handed out again, once its
    /// events have been caught up with. Absent when the sender cannot tell (a gateway
    /// forwarding a poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<u32>,
}

/// What the coordinator itself records in an execution's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event_type", rename_all = "snake_case")]
pub enum CoordinatorEvent {
    ExecutionCreated {
        plan_id: Id,
        agent_id: Id,
    },
    /// Tasks were copied from the plan into the execution.
    TasksMaterialised {
        tasks: u32,
        leaves: u32,
    },
    ExecutionStatusChanged {
        from: ExecutionStatus,
        to: ExecutionStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    TaskDispatched {
        agent_id: Id,
        attempt: u32,
        capability: String,
    },
    /// The attempt failed or timed out; the next one waits until `next_attempt_at`.
    TaskRetryScheduled {
        attempt: u32,
        failures: u32,
        next_attempt_at: Timestamp,
        error: String,
    },
    /// The attempt failed and no further attempt will be made.
    TaskGaveUp {
        attempt: u32,
        failures: u32,
        error: String,
    },
    TaskTimedOut {
        attempt: u32,
        deadline: Timestamp,
    },
    TaskCancelled {
        attempt: u32,
        reason: String,
    },
    TaskReassigned {
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_agent: Option<Id>,
        to_agent: Id,
    },
    TaskSkipped {
        reason: String,
    },
    /// An operator completed the task by hand with this output.
    TaskMarkedComplete {
        reason: String,
        output: Value,
    },
    /// Its agent came back without the attempt (it said it holds nothing): the task is handed
    /// out again without counting a failure.
    TaskAbandoned {
        attempt: u32,
        agent_id: Id,
        reason: String,
    },
}

impl CoordinatorEvent {
    pub fn event_type(&self) -> EventType {
        match self {
            Self::ExecutionCreated { .. } => EventType::ExecutionCreated,
            Self::TasksMaterialised { .. } => EventType::TasksMaterialised,
            Self::ExecutionStatusChanged { .. } => EventType::ExecutionStatusChanged,
            Self::TaskDispatched { .. } => EventType::TaskDispatched,
            Self::TaskRetryScheduled { .. } => EventType::TaskRetryScheduled,
            Self::TaskGaveUp { .. } => EventType::TaskGaveUp,
            Self::TaskTimedOut { .. } => EventType::TaskTimedOut,
            Self::TaskCancelled { .. } => EventType::TaskCancelled,
            Self::TaskReassigned { .. } => EventType::TaskReassigned,
            Self::TaskSkipped { .. } => EventType::TaskSkipped,
            Self::TaskMarkedComplete { .. } => EventType::TaskMarkedComplete,
            Self::TaskAbandoned { .. } => EventType::TaskAbandoned,
        }
    }

    /// The payload without its tag, as stored in the `output` column.
    pub fn output(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => {
                map.remove("event_type");
                Value::Object(map)
            }
            _ => Value::Null,
        }
    }
}

/// Every `event_type` an execution's history can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    TaskStarted,
    TaskProgress,
    TaskComplete,
    TaskFailed,
    TaskReleased,
    Log,
    ExecutionCreated,
    TasksMaterialised,
    ExecutionStatusChanged,
    TaskDispatched,
    TaskRetryScheduled,
    TaskGaveUp,
    TaskTimedOut,
    TaskCancelled,
    TaskReassigned,
    TaskSkipped,
    TaskMarkedComplete,
    TaskAbandoned,
}

impl EventType {
    pub const ALL: [Self; 18] = [
        Self::TaskStarted,
        Self::TaskProgress,
        Self::TaskComplete,
        Self::TaskFailed,
        Self::TaskReleased,
        Self::Log,
        Self::ExecutionCreated,
        Self::TasksMaterialised,
        Self::ExecutionStatusChanged,
        Self::TaskDispatched,
        Self::TaskRetryScheduled,
        Self::TaskGaveUp,
        Self::TaskTimedOut,
        Self::TaskCancelled,
        Self::TaskReassigned,
        Self::TaskSkipped,
        Self::TaskMarkedComplete,
        Self::TaskAbandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskStarted => "task_started",
            Self::TaskProgress => "task_progress",
            Self::TaskComplete => "task_complete",
            Self::TaskFailed => "task_failed",
            Self::TaskReleased => "task_released",
            Self::Log => "log",
            Self::ExecutionCreated => "execution_created",
            Self::TasksMaterialised => "tasks_materialised",
            Self::ExecutionStatusChanged => "execution_status_changed",
            Self::TaskDispatched => "task_dispatched",
            Self::TaskRetryScheduled => "task_retry_scheduled",
            Self::TaskGaveUp => "task_gave_up",
            Self::TaskTimedOut => "task_timed_out",
            Self::TaskCancelled => "task_cancelled",
            Self::TaskReassigned => "task_reassigned",
            Self::TaskSkipped => "task_skipped",
            Self::TaskMarkedComplete => "task_marked_complete",
            Self::TaskAbandoned => "task_abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Who records events of this type: agents report theirs, the coordinator records the rest.
    pub fn source(self) -> EventSource {
        match self {
            Self::TaskStarted
            | Self::TaskProgress
            | Self::TaskComplete
            | Self::TaskFailed
            | Self::TaskReleased
            | Self::Log => EventSource::Agent,
            Self::ExecutionCreated
            | Self::TasksMaterialised
            | Self::ExecutionStatusChanged
            | Self::TaskDispatched
            | Self::TaskRetryScheduled
            | Self::TaskGaveUp
            | Self::TaskTimedOut
            | Self::TaskCancelled
            | Self::TaskReassigned
            | Self::TaskSkipped
            | Self::TaskMarkedComplete
            | Self::TaskAbandoned => EventSource::Coordinator,
        }
    }

    /// Whether an event of this type ends the attempt it names, so that its agent no longer
    /// holds the task: the agent's final word on it (`task_complete`, `task_failed`,
    /// `task_released`), or the coordinator taking it away (`task_timed_out`,
    /// `task_cancelled`, `task_abandoned`). An attempt-ending event needs the attempt in flight; after an
    /// agent's, the gateway may hand it its next task at once.
    pub fn ends_attempt(self) -> bool {
        match self {
            Self::TaskComplete
            | Self::TaskFailed
            | Self::TaskReleased
            | Self::TaskTimedOut
            | Self::TaskCancelled
            | Self::TaskAbandoned => true,
            Self::TaskStarted
            | Self::TaskProgress
            | Self::Log
            | Self::ExecutionCreated
            | Self::TasksMaterialised
            | Self::ExecutionStatusChanged
            | Self::TaskDispatched
            | Self::TaskRetryScheduled
            | Self::TaskGaveUp
            | Self::TaskReassigned
            | Self::TaskSkipped
            | Self::TaskMarkedComplete => false,
        }
    }
}

/// Who produced an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    Agent,
    Coordinator,
}

/// What the coordinator did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Recorded and applied to the execution.
    Applied,
    /// Recorded with `reason` and never applied (wrong agent, superseded attempt, ...).
    Rejected,
    /// Seen before under the same event id; nothing changed. Never stored twice.
    Duplicate,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Rejected => "rejected",
            Self::Duplicate => "duplicate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "applied" => Some(Self::Applied),
            "rejected" => Some(Self::Rejected),
            "duplicate" => Some(Self::Duplicate),
            _ => None,
        }
    }
}

/// One entry of an execution's history (`GET /api/executions/{id}/events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecutionEvent {
    pub id: Id,
    /// Order of recording; the keyset cursor of the events list.
    pub seq: i64,
    pub execution_id: Id,
    pub task_id: Option<Id>,
    pub agent_id: Option<Id>,
    pub attempt: Option<u32>,
    pub event_type: EventType,
    pub source: EventSource,
    pub disposition: Disposition,
    /// Why a rejected event was not applied (`stale_attempt`, `wrong_agent`, ...).
    pub reason: Option<String>,
    /// When it happened (the agent's clock for agent events).
    pub timestamp: Timestamp,
    /// When the coordinator committed it.
    pub recorded_at: Timestamp,
    /// The event's payload without its tag.
    pub output: Value,
}
