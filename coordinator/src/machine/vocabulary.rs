//! The machine's vocabulary: what can happen to an execution ([`Input`]), what the machine may
//! know beyond its state ([`Context`]), why an input is refused ([`Rejection`]), and what changed
//! ([`Change`], read by the engine's effects).

use chrono::Duration;
use planexec_schemas::event::AgentEvent;
use planexec_schemas::execution::{BlockedReason, ExecutionStatus, TaskStatus};
use planexec_schemas::{Id, Timestamp};
use serde_json::Value;

use super::retry::RetryPolicy;
use super::state::{AgentDirectory, ExecutionState};
use super::transitions::InvalidTransition;

/// Something that happens to an execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Its tasks were materialised: QUEUED (or NEEDS_REVIEW when the plan must be reviewed first).
    Start {
        needs_review: bool,
    },
    /// An operator approved the plan: NEEDS_REVIEW → QUEUED.
    Approve,
    /// An agent's event; `sender` is the agent the transport proved it came from.
    Agent {
        sender: Id,
        event: AgentEvent,
    },
    Pause,
    /// Resume a paused execution, or retry the failed tasks of a blocked one.
    Resume,
    Cancel {
        reason: String,
    },
    /// Time passed: fire the deadlines that are due at `Context::now`.
    Tick,
    /// Agents came, went or changed: look again at routing and blocks.
    AgentsChanged,
    /// Move one leaf, or the whole execution, to another agent.
    Reassign {
        task: Option<Id>,
        to: Id,
    },
    /// An operator retries, skips or completes one leaf.
    Resolve {
        task: Id,
        action: Resolution,
    },
    /// `agent` says it has held no task since `since` (it restarted, or lost its work): its
    /// attempts that started before then are handed out again, without counting a failure.
    HolderEmpty {
        agent: Id,
        since: Timestamp,
    },
}

/// What an operator does with one leaf.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// A failed leaf gets a fresh attempt budget and is dispatched again.
    Retry,
    /// The leaf counts as done without output.
    Skip,
    /// The leaf is completed with this output (the work was done by hand).
    Complete { output: Value },
}

/// What the machine may know beyond the state: the time and the agents.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub now: Timestamp,
    pub agents: &'a AgentDirectory,
    /// Back-off of retries; `max_attempts` comes from each task (see [`RetryPolicy`]).
    pub retry: RetryPolicy,
    /// How long a dispatched task may wait in an agent's queue before it counts as timed out.
    pub queue_timeout: Duration,
    /// How long a dispatch may stay unconfirmed by JetStream before it is published again
    /// (the publisher crashed between commit and publish).
    pub publish_grace: Duration,
}

/// Why an input was not applied. `code()` is the stable reason stored with a rejected event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("task {0} is not part of this execution")]
    UnknownTask(Id),
    #[error("task {0} has subtasks; events are about its subtasks")]
    NotALeaf(Id),
    #[error("agent {sender} reported on a task assigned to {}", assignee.map_or_else(|| "nobody".to_owned(), |a| a.to_string()))]
    WrongAgent { sender: Id, assignee: Option<Id> },
    #[error("attempt {got} is superseded by attempt {current}")]
    StaleAttempt { current: u32, got: u32 },
    #[error("attempt {got} was never dispatched (current attempt is {current})")]
    UnknownAttempt { current: u32, got: u32 },
    #[error("the task is {status}, not in flight")]
    TaskNotInFlight { status: TaskStatus },
    #[error("the task has already started")]
    AlreadyStarted,
    #[error("the execution is {0} and takes no more events")]
    ExecutionFinished(ExecutionStatus),
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    #[error("{0}")]
    NotApplicable(String),
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownTask(_) => "unknown_task",
            Self::NotALeaf(_) => "not_a_leaf",
            Self::WrongAgent { .. } => "wrong_agent",
            Self::StaleAttempt { .. } => "stale_attempt",
            Self::UnknownAttempt { .. } => "unknown_attempt",
            Self::TaskNotInFlight { .. } => "task_not_in_flight",
            Self::AlreadyStarted => "already_started",
            Self::ExecutionFinished(_) => "execution_finished",
            Self::InvalidTransition(_) => "invalid_transition",
            Self::NotApplicable(_) => "not_applicable",
        }
    }
}

/// One thing that changed; the engine turns these into history rows, logs and messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Execution {
        from: ExecutionStatus,
        to: ExecutionStatus,
        reason: Option<String>,
    },
    /// The block stays but its reason changed.
    BlockedReason {
        reason: BlockedReason,
        detail: String,
    },
    Task {
        index: usize,
        from: TaskStatus,
        to: TaskStatus,
    },
    Dispatched {
        index: usize,
        agent: Id,
        attempt: u32,
    },
    /// The dispatch of a still unconfirmed attempt must be published again.
    Republish {
        index: usize,
        agent: Id,
        attempt: u32,
    },
    RetryScheduled {
        index: usize,
        attempt: u32,
        failures: u32,
        at: Timestamp,
        error: String,
    },
    GaveUp {
        index: usize,
        attempt: u32,
        failures: u32,
        error: String,
    },
    TimedOut {
        index: usize,
        attempt: u32,
        deadline: Timestamp,
    },
    /// A leaf in flight was taken away from `agent`; it must be told to stop.
    Revoked {
        index: usize,
        agent: Id,
        attempt: u32,
        reason: String,
    },
    Reassigned {
        index: usize,
        attempt: u32,
        from: Option<Id>,
        to: Id,
    },
    Skipped {
        index: usize,
    },
    /// An operator completed the leaf with `output` (stored as [`Change::Completed`] stores it).
    MarkedComplete {
        index: usize,
        output: Value,
    },
    /// The agent holding the attempt came back without it; the leaf is ready again.
    Abandoned {
        index: usize,
        agent: Id,
        attempt: u32,
    },
    Completed {
        index: usize,
        output: Value,
    },
    Failed {
        index: usize,
        error: String,
    },
}

/// The effect of one input: the new state and what changed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub state: ExecutionState,
    pub changes: Vec<Change>,
}
