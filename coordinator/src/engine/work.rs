//! What the engine is asked to do, and what became of it.

use planexec_schemas::Id;
use planexec_schemas::event::AgentEvent;
use planexec_schemas::execution::ExecutionStatus;
use planexec_telemetry::propagate::TraceContext;

use crate::machine::{Input, Rejection};

/// Something to do to one execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// An event from `sender`, the agent its transport proved it came from, in the trace its
    /// message carried (empty when traces are not exported).
    Agent {
        sender: Id,
        event: AgentEvent,
        trace: TraceContext,
    },
    /// An operator's command (pause, resume, cancel, reassign, resolve), or what the coordinator
    /// learnt besides events (an agent holds nothing).
    Operator(Input),
    /// Look at the execution: start it, release it after review, fire its due deadlines.
    Wake,
    /// A wake of an execution just created, in the trace of the request that created it (its
    /// first dispatches belong to that request).
    Start { trace: TraceContext },
    /// Agents came, went or registered.
    AgentsChanged,
}

impl Work {
    /// A look at the execution (a wake, or the first one after its creation).
    pub fn is_wake(&self) -> bool {
        matches!(self, Self::Wake | Self::Start { .. })
    }

    /// Its name in spans and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Agent { .. } => "agent_event",
            Self::Operator(_) => "operator",
            Self::Wake => "wake",
            Self::Start { .. } => "start",
            Self::AgentsChanged => "agents_changed",
        }
    }
}

/// One piece of work for one execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub execution_id: Id,
    pub work: Work,
}

/// What became of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applied,
    /// An event whose id was already recorded: nothing changed.
    Duplicate,
    Rejected(Rejection),
    UnknownExecution,
    /// Another transaction held the execution (scheduler only); it will be looked at again.
    Busy,
}

impl Outcome {
    /// The outcome's name in metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Rejected(_) => "rejected",
            Self::UnknownExecution => "unknown_execution",
            Self::Busy => "busy",
        }
    }
}

/// The outcome of one item and where its execution stands after the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemResult {
    pub outcome: Outcome,
    /// The execution after the batch, when it exists.
    pub status: Option<ExecutionStatus>,
    pub progress: f64,
}

/// How to take the execution locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Wait for other transactions (events and commands must be applied).
    Wait,
    /// Skip executions another transaction holds (the scheduler comes back later).
    SkipLocked,
}
