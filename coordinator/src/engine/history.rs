//! What the history keeps of a transition, and what must be sent once it is committed.

use planexec_schemas::event::{AgentEvent, CoordinatorEvent, Disposition, EventSource};
use planexec_schemas::task::TaskCancel;
use planexec_schemas::{Id, Timestamp, new_id};
use planexec_store::events::NewEvent;
use planexec_store::executions::NodeTable;

use super::state::table_of;
use crate::machine::{Change, ExecutionState, Rejection};

/// The row of an event an agent reported.
pub fn agent_event(sender: Id, event: &AgentEvent, rejection: Option<&Rejection>) -> NewEvent {
    let mut output = event.body.output();
    if let (Some(status), Some(map)) = (&event.status, output.as_object_mut()) {
        map.insert("status".into(), status.clone().into());
    }
    NewEvent {
        id: event.event_id,
        execution_id: event.execution_id,
        task_id: Some(event.task_id),
        agent_id: Some(sender),
        attempt: Some(event.attempt),
        event_type: event.body.event_type(),
        source: EventSource::Agent,
        disposition: if rejection.is_some() {
            Disposition::Rejected
        } else {
            Disposition::Applied
        },
        reason: rejection.map(|r| format!("{}: {r}", r.code())),
        timestamp: event.timestamp,
        output,
    }
}

/// A row of the coordinator's own doing.
pub fn coordinator_event(
    execution: Id,
    task: Option<Id>,
    attempt: Option<u32>,
    now: Timestamp,
    event: CoordinatorEvent,
) -> NewEvent {
    NewEvent {
        id: new_id(),
        execution_id: execution,
        task_id: task,
        agent_id: None,
        attempt,
        event_type: event.event_type(),
        source: EventSource::Coordinator,
        disposition: Disposition::Applied,
        reason: None,
        timestamp: now,
        output: event.output(),
    }
}

/// A dispatch to publish after commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub execution_id: Id,
    pub plan_id: Id,
    pub table: NodeTable,
    pub task_id: Id,
    pub agent: Id,
    pub attempt: u32,
    pub wbs: String,
    pub title: String,
    pub capability: String,
    pub timeout_seconds: u32,
    pub max_attempts: u32,
    pub dispatched_at: Timestamp,
}

/// What a transition means outside the database.
#[derive(Debug, Default)]
pub struct Effects {
    pub history: Vec<NewEvent>,
    pub dispatches: Vec<Dispatch>,
    pub cancels: Vec<(Id, TaskCancel)>,
    /// Indices dispatched anew (their publication must be confirmed again).
    pub redispatched: Vec<usize>,
}

/// Reads a transition's changes of `state` (the state after them).
pub fn effects(state: &ExecutionState, changes: &[Change], now: Timestamp, out: &mut Effects) {
    let id = state.id;
    let node = |index: usize| &state.nodes[index];
    let task = |index: usize| Some(state.nodes[index].spec.id);
    for change in changes {
        match change {
            Change::Execution { from, to, reason } => out.history.push(coordinator_event(
                id,
                None,
                None,
                now,
                CoordinatorEvent::ExecutionStatusChanged {
                    from: *from,
                    to: *to,
                    reason: reason.clone(),
                },
            )),
            Change::Dispatched {
                index,
                agent,
                attempt,
            }
            | Change::Republish {
                index,
                agent,
                attempt,
            } => {
                let n = node(*index);
                if matches!(change, Change::Dispatched { .. }) {
                    out.redispatched.push(*index);
                    out.history.push(coordinator_event(
                        id,
                        task(*index),
                        Some(*attempt),
                        now,
                        CoordinatorEvent::TaskDispatched {
                            agent_id: *agent,
                            attempt: *attempt,
                            capability: n.spec.capability.clone().unwrap_or_default(),
                        },
                    ));
                }
                out.dispatches.push(Dispatch {
                    execution_id: id,
                    plan_id: state.plan_id,
                    table: table_of(state, *index),
                    task_id: n.spec.id,
                    agent: *agent,
                    attempt: *attempt,
                    wbs: n.spec.wbs.clone(),
                    title: n.spec.title.clone(),
                    capability: n.spec.capability.clone().unwrap_or_default(),
                    timeout_seconds: n.spec.timeout_seconds,
                    max_attempts: n.spec.max_attempts,
                    dispatched_at: n.dispatched_at.unwrap_or(now),
                });
            }
            Change::RetryScheduled {
                index,
                attempt,
                failures,
                at,
                error,
            } => out.history.push(coordinator_event(
                id,
                task(*index),
                Some(*attempt),
                now,
                CoordinatorEvent::TaskRetryScheduled {
                    attempt: *attempt,
                    failures: *failures,
                    next_attempt_at: *at,
                    error: error.clone(),
                },
            )),
            Change::GaveUp {
                index,
                attempt,
                failures,
                error,
            } => out.history.push(coordinator_event(
                id,
                task(*index),
                Some(*attempt),
                now,
                CoordinatorEvent::TaskGaveUp {
                    attempt: *attempt,
                    failures: *failures,
                    error: error.clone(),
                },
            )),
            Change::TimedOut {
                index,
                attempt,
                deadline,
            } => out.history.push(coordinator_event(
                id,
                task(*index),
                Some(*attempt),
                now,
                CoordinatorEvent::TaskTimedOut {
                    attempt: *attempt,
                    deadline: *deadline,
                },
            )),
            Change::Revoked {
                index,
                agent,
                attempt,
                reason,
            } => {
                out.history.push(coordinator_event(
                    id,
                    task(*index),
                    Some(*attempt),
                    now,
                    CoordinatorEvent::TaskCancelled {
                        attempt: *attempt,
                        reason: reason.clone(),
                    },
                ));
                out.cancels.push((
                    *agent,
                    TaskCancel {
                        execution_id: id,
                        task_id: node(*index).spec.id,
                        attempt: *attempt,
                        reason: reason.clone(),
                    },
                ));
            }
            Change::Reassigned {
                index,
                attempt,
                from,
                to,
            } => out.history.push(coordinator_event(
                id,
                task(*index),
                Some(*attempt),
                now,
                CoordinatorEvent::TaskReassigned {
                    attempt: *attempt,
                    from_agent: *from,
                    to_agent: *to,
                },
            )),
            Change::Skipped { index } => out.history.push(coordinator_event(
                id,
                task(*index),
                None,
                now,
                CoordinatorEvent::TaskSkipped {
                    reason: "skipped by an operator".into(),
                },
            )),
            Change::BlockedReason { .. }
            | Change::Task { .. }
            | Change::Completed { .. }
            | Change::Failed { .. } => {}
        }
    }
}
