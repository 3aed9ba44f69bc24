//! One input applied to one execution, as a pure function: [`apply`] in place, or
//! [`derive_state`] on a copy.
//!
//! Every check that can reject an input runs before anything is changed, so a rejected input
//! leaves the state exactly as it was. After the input itself, [`settle`](super::settle) brings
//! the execution to rest: derived task statuses, progress, completion, blocking, dispatch.

use super::mutator::Mutator;
use super::settle::settle;
use super::state::ExecutionState;
use super::vocabulary::{Change, Context, Input, Rejection, Transition};

/// Applies `input` to a copy of `state`. A rejection changes nothing.
pub fn derive_state(
    state: &ExecutionState,
    input: &Input,
    ctx: &Context<'_>,
) -> Result<Transition, Rejection> {
    let mut next = state.clone();
    let mut changes = Vec::new();
    apply(&mut next, input, ctx, &mut changes)?;
    Ok(Transition {
        state: next,
        changes,
    })
}

/// Applies `input` in place. On `Err`, `state` and `changes` are untouched.
pub fn apply(
    state: &mut ExecutionState,
    input: &Input,
    ctx: &Context<'_>,
    changes: &mut Vec<Change>,
) -> Result<(), Rejection> {
    let mut m = Mutator {
        state,
        ctx,
        changes,
    };
    match input {
        Input::Start { needs_review } => m.start(*needs_review),
        Input::Approve => m.approve(),
        Input::Agent { sender, event } => m.agent_event(*sender, event)?,
        Input::Pause => m.pause()?,
        Input::Resume => m.resume()?,
        Input::Cancel { reason } => m.cancel(reason)?,
        Input::Tick => m.tick(),
        Input::AgentsChanged => {}
        Input::Reassign { task, to } => m.reassign(*task, *to)?,
        Input::Resolve { task, action } => m.resolve(*task, action)?,
        Input::HolderEmpty { agent, since } => m.holder_empty(*agent, *since),
    }
    settle(&mut m);
    Ok(())
}
