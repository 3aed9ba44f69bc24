//! The state machine of executions: a pure function from (state, input) to a transition.
//!
//! No I/O happens here; the engine loads a state, calls [`derive_state`] (or [`apply`] on a
//! working copy for a batch of inputs), persists the changes and publishes what they imply.
//! That makes every rule testable without servers, exhaustively and by property tests.
//!
//! - [`vocabulary`]: inputs, the context, rejections, changes.
//! - [`transitions`]: the valid transitions and `validate_transition`.
//! - [`state`]: the execution as the machine sees it, and the agent directory.
//! - [`apply`](mod@apply): `apply` and `derive_state`, the entry points.
//! - `mutator`: every mutation of a state, checked and recorded.
//! - `inputs`: what each input does.
//! - [`retry`]: the retry policy: attempts, back-off, timeouts, what spending them does.
//! - `settle`: after every input, derived statuses, progress, blocking and dispatch.

pub mod apply;
mod inputs;
mod mutator;
pub mod retry;
mod settle;
pub mod state;
pub mod transitions;
pub mod vocabulary;

pub use apply::{apply, derive_state};
pub use retry::RetryPolicy;
pub use state::{AgentDirectory, AgentView, ExecutionState, Node, NodeKind, NodeSpec};
pub use transitions::{
    InvalidTaskTransition, InvalidTransition, allowed_task_transitions, allowed_transitions,
    validate_task_transition, validate_transition,
};
pub use vocabulary::{Change, Context, Input, Rejection, Resolution, Transition};
