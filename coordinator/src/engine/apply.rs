//! Phase 3 of a transaction: each item, in order, through the pure state machine, and what its
//! changes mean (see [`effects`](super::effects)).
//!
//! An agent event whose id is already recorded is a duplicate and never reaches the machine;
//! every other agent event is recorded, applied or rejected. Operators' commands may be refused;
//! wake-ups and agent changes are valid by construction.

use planexec_schemas::Id;
use planexec_schemas::event::AgentEvent;
use planexec_schemas::execution::ExecutionStatus;

use super::effects::{self, agent_event};
use super::load::{Batch, Entry};
use super::work::{Item, ItemResult, LockMode, Outcome, Work};
use crate::liveness::Liveness;
use crate::machine::{self, Change, Context, Input};

impl Batch {
    /// Applies `items` in order; one result per item, and one span per item, to be dropped
    /// (ended) once the transaction committed. An agent event's span continues the trace its
    /// message carried; what the item causes (its dispatches) continues from that span.
    pub(super) fn apply(
        &mut self,
        items: &[Item],
        mode: LockMode,
        ctx: &Context<'_>,
        liveness: &Liveness,
    ) -> (Vec<ItemResult>, Vec<tracing::Span>) {
        let mut results = Vec::with_capacity(items.len());
        let mut spans = Vec::with_capacity(items.len());
        for item in items {
            let span = item_span(item);
            let _entered = span.enter();
            let Some(entry) = self.entries.get_mut(&item.execution_id) else {
                let outcome = if self.entries.len() < self.asked && mode == LockMode::SkipLocked {
                    Outcome::Busy
                } else {
                    Outcome::UnknownExecution
                };
                results.push(ItemResult {
                    outcome,
                    status: None,
                    progress: 0.0,
                });
                continue;
            };
            let mut changes = Vec::new();
            let outcome = match &item.work {
                Work::Agent { sender, event, .. } => {
                    liveness.touch(*sender, ctx.now);
                    if !self.seen.insert(event.event_id) {
                        Outcome::Duplicate
                    } else {
                        let (outcome, row) = agent(entry, *sender, event, ctx, &mut changes);
                        self.history.push(row);
                        outcome
                    }
                }
                Work::Operator(input) => {
                    match machine::apply(&mut entry.state, input, ctx, &mut changes) {
                        Ok(()) => Outcome::Applied,
                        Err(rejection) => Outcome::Rejected(rejection),
                    }
                }
                Work::Wake | Work::Start { .. } => {
                    let startable = self.startable.get(&entry.state.id).copied();
                    wake(entry, startable, ctx, &mut changes)
                }
                Work::AgentsChanged => {
                    // Valid by construction; nothing changing is fine.
                    let _ =
                        machine::apply(&mut entry.state, &Input::AgentsChanged, ctx, &mut changes);
                    Outcome::Applied
                }
            };
            effects::record(&entry.state, &changes, ctx.now, &mut entry.effects);
            self.history.append(&mut entry.effects.history);
            results.push(ItemResult {
                outcome,
                status: Some(entry.state.status),
                progress: entry.state.progress,
            });
            drop(_entered);
            spans.push(span);
        }
        (results, spans)
    }
}

/// The span of one item: `event` (with its type and the trace its message carried) or `work`.
fn item_span(item: &Item) -> tracing::Span {
    match &item.work {
        Work::Agent { event, trace, .. } => {
            let span = tracing::info_span!(
                "event",
                execution = %item.execution_id,
                task = %event.task_id,
                event_type = event.body.event_type().as_str(),
            );
            trace.parent_of(&span);
            span
        }
        Work::Start { trace } => {
            let span = tracing::info_span!("work", execution = %item.execution_id, kind = "start");
            trace.parent_of(&span);
            span
        }
        other => tracing::info_span!(
            "work",
            execution = %item.execution_id,
            kind = other.kind(),
        ),
    }
}

/// An agent's event: applied or rejected, and recorded either way (the row is returned).
fn agent(
    entry: &mut Entry,
    sender: Id,
    event: &AgentEvent,
    ctx: &Context<'_>,
    changes: &mut Vec<Change>,
) -> (Outcome, planexec_store::events::NewEvent) {
    let input = Input::Agent {
        sender,
        event: event.clone(),
    };
    let applied = machine::apply(&mut entry.state, &input, ctx, changes);
    let row = agent_event(sender, event, applied.as_ref().err());
    let outcome = match applied {
        Ok(()) => Outcome::Applied,
        Err(rejection) => Outcome::Rejected(rejection),
    };
    (outcome, row)
}

/// A look at the execution: start it (or hold it for review), release it once its plan is
/// approved, and fire its due deadlines.
fn wake(
    entry: &mut Entry,
    startable: Option<bool>,
    ctx: &Context<'_>,
    changes: &mut Vec<Change>,
) -> Outcome {
    let mut inputs = Vec::new();
    match entry.state.status {
        ExecutionStatus::Created => inputs.push(Input::Start {
            needs_review: !startable.unwrap_or(false),
        }),
        ExecutionStatus::NeedsReview if startable == Some(true) => inputs.push(Input::Approve),
        _ => {}
    }
    inputs.push(Input::Tick);
    for input in inputs {
        // Each is valid by construction; a no-op is fine.
        let _ = machine::apply(&mut entry.state, &input, ctx, changes);
    }
    Outcome::Applied
}
