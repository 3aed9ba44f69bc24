//! The state machine of executions: a pure function from (state, input) to a transition.
//!
//! No I/O happens here; the engine loads a state, calls [`derive_state`] (or [`apply`] on a
//! working copy for a batch of inputs), persists the changes and publishes what they imply.
//! That makes every rule testable without servers, exhaustively and by property tests.
//!
//! - [`transitions`]: the valid transitions and `validate_transition`.
//! - [`state`]: the execution as the machine sees it, and the agent directory.
//! - [`derive`]: inputs, rejections, changes and `derive_state`.
//! - `settle`: after every input, derived statuses, progress, blocking and dispatch.

pub mod derive;
mod settle;
pub mod state;
pub mod transitions;

pub use derive::{Change, Context, Input, Rejection, Transition, apply, derive_state};
pub use state::{AgentDirectory, AgentView, ExecutionState, Node, NodeKind, NodeSpec};
pub use transitions::{
    InvalidTaskTransition, InvalidTransition, allowed_task_transitions, allowed_transitions,
    validate_task_transition, validate_transition,
};
