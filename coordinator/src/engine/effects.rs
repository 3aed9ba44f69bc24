//! What a transition means outside the machine: every [`Change`] becomes, here and only here, the
//! history rows, the dispatches and cancels to publish, the results and errors to store, and the
//! line to log.
//!
//! History rows, results and errors are written in the transaction; dispatches, cancels and log
//! lines ([`LogLine`]) wait for its commit.

use planexec_schemas::event::{AgentEvent, CoordinatorEvent, Disposition};
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::task::TaskCancel;
use planexec_schemas::{Id, Timestamp, new_id};
use planexec_store::events::NewEvent;
use planexec_store::executions::NodeTable;
use planexec_store::executions::engine::NodeOutput;
use planexec_telemetry::propagate::TraceContext;
use tracing::Level;

use super::log::{Fields, LogLine};
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
        source: event.body.event_type().source(),
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
        source: event.event_type().source(),
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
    /// The trace of what caused it (the event or command being applied); the task message
    /// carries it to the agent.
    pub trace: TraceContext,
}

/// What the changes of one execution mean outside the machine.
#[derive(Debug, Default)]
pub struct Effects {
    /// History rows, drained into the batch's history after each item (the order of items is
    /// the order of recording).
    pub history: Vec<NewEvent>,
    pub dispatches: Vec<Dispatch>,
    pub cancels: Vec<(Id, TaskCancel)>,
    /// Indices dispatched anew (their publication must be confirmed again).
    pub redispatched: Vec<usize>,
    /// Results and errors, stored with the task's row.
    pub outputs: Vec<NodeOutput>,
    /// Lines to log once the transaction committed.
    pub logs: Vec<LogLine>,
}

/// Adds what `changes` mean to `out`; `state` is the execution after them.
pub fn record(state: &ExecutionState, changes: &[Change], now: Timestamp, out: &mut Effects) {
    let mut recorder = Recorder { state, now, out };
    for change in changes {
        recorder.change(change);
    }
}

struct Recorder<'a> {
    state: &'a ExecutionState,
    now: Timestamp,
    out: &'a mut Effects,
}

impl Recorder<'_> {
    /// The one reading of a change.
    fn change(&mut self, change: &Change) {
        use Level as L;
        match change {
            Change::Execution { from, to, reason } => self.status_changed(*from, *to, reason),
            Change::BlockedReason { reason, detail } => {
                self.log(L::INFO, "execution block changed", None, || Fields {
                    reason: Some(reason.as_str().to_owned()),
                    detail: Some(detail.clone()),
                    ..Fields::default()
                })
            }
            Change::Task { index, from, to } => {
                self.log(L::DEBUG, "task status changed", Some(*index), || Fields {
                    from: Some(from.to_string()),
                    to: Some(to.to_string()),
                    ..Fields::default()
                })
            }
            Change::Dispatched {
                index,
                agent,
                attempt,
            } => self.dispatched(*index, *agent, *attempt),
            Change::Republish {
                index,
                agent,
                attempt,
            } => {
                let message = "dispatch unconfirmed; publishing again";
                self.log(L::WARN, message, Some(*index), || held(*agent, *attempt));
                self.dispatch(*index, *agent, *attempt);
            }
            Change::RetryScheduled {
                index,
                attempt,
                failures,
                at,
                error,
            } => self.retry_scheduled(*index, *attempt, *failures, *at, error),
            Change::GaveUp {
                index,
                attempt,
                failures,
                error,
            } => self.gave_up(*index, *attempt, *failures, error),
            Change::TimedOut {
                index,
                attempt,
                deadline,
            } => self.timed_out(*index, *attempt, *deadline),
            Change::Revoked {
                index,
                agent,
                attempt,
                reason,
            } => self.revoked(*index, *agent, *attempt, reason),
            Change::Reassigned {
                index,
                attempt,
                from,
                to,
            } => self.reassigned(*index, *attempt, *from, *to),
            Change::Skipped { index } => self.skipped(*index),
            Change::MarkedComplete { index, output } => {
                self.history(
                    Some(*index),
                    None,
                    CoordinatorEvent::TaskMarkedComplete {
                        reason: "completed by an operator".into(),
                        output: output.clone(),
                    },
                );
                self.log(
                    L::INFO,
                    "task marked complete",
                    Some(*index),
                    Fields::default,
                );
                self.completed(*index, output);
            }
            Change::Abandoned {
                index,
                agent,
                attempt,
            } => self.abandoned(*index, *agent, *attempt),
            Change::Completed { index, output } => self.completed(*index, output),
            Change::Failed { index, error } => self.failed(*index, error),
        }
    }

    fn status_changed(
        &mut self,
        from: ExecutionStatus,
        to: ExecutionStatus,
        reason: &Option<String>,
    ) {
        self.history(
            None,
            None,
            CoordinatorEvent::ExecutionStatusChanged {
                from,
                to,
                reason: reason.clone(),
            },
        );
        self.log(Level::INFO, "execution status changed", None, || Fields {
            from: Some(from.to_string()),
            to: Some(to.to_string()),
            reason: Some(reason.clone().unwrap_or_default()),
            ..Fields::default()
        });
    }

    fn dispatched(&mut self, index: usize, agent: Id, attempt: u32) {
        self.out.redispatched.push(index);
        let capability = self.state.nodes[index].spec.capability.clone();
        self.history(
            Some(index),
            Some(attempt),
            CoordinatorEvent::TaskDispatched {
                agent_id: agent,
                attempt,
                capability: capability.unwrap_or_default(),
            },
        );
        self.log(Level::DEBUG, "task dispatched", Some(index), || {
            held(agent, attempt)
        });
        self.dispatch(index, agent, attempt);
    }

    fn retry_scheduled(
        &mut self,
        index: usize,
        attempt: u32,
        failures: u32,
        at: Timestamp,
        error: &str,
    ) {
        self.history(
            Some(index),
            Some(attempt),
            CoordinatorEvent::TaskRetryScheduled {
                attempt,
                failures,
                next_attempt_at: at,
                error: error.to_owned(),
            },
        );
        self.log(Level::INFO, "retry scheduled", Some(index), || Fields {
            attempt: Some(attempt),
            failures: Some(failures),
            at: Some(at),
            error: Some(error.to_owned()),
            ..Fields::default()
        });
    }

    fn gave_up(&mut self, index: usize, attempt: u32, failures: u32, error: &str) {
        self.history(
            Some(index),
            Some(attempt),
            CoordinatorEvent::TaskGaveUp {
                attempt,
                failures,
                error: error.to_owned(),
            },
        );
        self.log(Level::WARN, "task failed for good", Some(index), || {
            Fields {
                attempt: Some(attempt),
                failures: Some(failures),
                error: Some(error.to_owned()),
                ..Fields::default()
            }
        });
    }

    fn timed_out(&mut self, index: usize, attempt: u32, deadline: Timestamp) {
        self.history(
            Some(index),
            Some(attempt),
            CoordinatorEvent::TaskTimedOut { attempt, deadline },
        );
        self.log(Level::WARN, "task timed out", Some(index), || Fields {
            attempt: Some(attempt),
            deadline: Some(deadline),
            ..Fields::default()
        });
    }

    /// Its agent came back without the attempt: recorded; nobody is left to tell.
    fn abandoned(&mut self, index: usize, agent: Id, attempt: u32) {
        self.history(
            Some(index),
            Some(attempt),
            CoordinatorEvent::TaskAbandoned {
                attempt,
                agent_id: agent,
                reason: "the agent came back holding no task".into(),
            },
        );
        self.log(
            Level::WARN,
            "task abandoned by its agent; handed out again",
            Some(index),
            || Fields {
                attempt: Some(attempt),
                from: Some(agent.to_string()),
                ..Fields::default()
            },
        );
    }

    /// A leaf taken from its agent: recorded, and the agent told to stop.
    fn revoked(&mut self, index: usize, agent: Id, attempt: u32, reason: &str) {
        self.history(
            Some(index),
            Some(attempt),
            CoordinatorEvent::TaskCancelled {
                attempt,
                reason: reason.to_owned(),
            },
        );
        let cancel = TaskCancel {
            execution_id: self.state.id,
            task_id: self.state.nodes[index].spec.id,
            attempt,
            reason: reason.to_owned(),
        };
        self.out.cancels.push((agent, cancel));
        self.log(Level::INFO, "task revoked from agent", Some(index), || {
            Fields {
                reason: Some(reason.to_owned()),
                ..held(agent, attempt)
            }
        });
    }

    fn reassigned(&mut self, index: usize, attempt: u32, from: Option<Id>, to: Id) {
        self.history(
            Some(index),
            Some(attempt),
            CoordinatorEvent::TaskReassigned {
                attempt,
                from_agent: from,
                to_agent: to,
            },
        );
        self.log(Level::INFO, "task reassigned", Some(index), || Fields {
            attempt: Some(attempt),
            from: Some(format!("{from:?}")),
            to: Some(to.to_string()),
            ..Fields::default()
        });
    }

    fn skipped(&mut self, index: usize) {
        self.history(
            Some(index),
            None,
            CoordinatorEvent::TaskSkipped {
                reason: "skipped by an operator".into(),
            },
        );
        self.log(Level::INFO, "task skipped", Some(index), Fields::default);
    }

    fn completed(&mut self, index: usize, output: &serde_json::Value) {
        self.out.outputs.push(NodeOutput::Result {
            table: table_of(self.state, index),
            id: self.state.nodes[index].spec.id,
            value: output.clone(),
        });
        self.log(Level::DEBUG, "task completed", Some(index), Fields::default);
    }

    fn failed(&mut self, index: usize, error: &str) {
        self.out.outputs.push(NodeOutput::Error {
            table: table_of(self.state, index),
            id: self.state.nodes[index].spec.id,
            message: error.to_owned(),
        });
        self.log(Level::DEBUG, "attempt failed", Some(index), || Fields {
            error: Some(error.to_owned()),
            ..Fields::default()
        });
    }

    /// A history row about the execution, or about the leaf at `index`.
    fn history(&mut self, index: Option<usize>, attempt: Option<u32>, event: CoordinatorEvent) {
        let task = index.map(|i| self.state.nodes[i].spec.id);
        let row = coordinator_event(self.state.id, task, attempt, self.now, event);
        self.out.history.push(row);
    }

    /// The publication of the current attempt of the leaf at `index`.
    fn dispatch(&mut self, index: usize, agent: Id, attempt: u32) {
        let node = &self.state.nodes[index];
        self.out.dispatches.push(Dispatch {
            execution_id: self.state.id,
            plan_id: self.state.plan_id,
            table: table_of(self.state, index),
            task_id: node.spec.id,
            agent,
            attempt,
            wbs: node.spec.wbs.clone(),
            title: node.spec.title.clone(),
            capability: node.spec.capability.clone().unwrap_or_default(),
            timeout_seconds: node.spec.timeout_seconds,
            max_attempts: node.spec.max_attempts,
            dispatched_at: node.dispatched_at.unwrap_or(self.now),
            trace: TraceContext::current(),
        });
    }

    /// A line to log after the commit, about the execution or the task at `task`.
    fn log(
        &mut self,
        level: Level,
        message: &'static str,
        task: Option<usize>,
        fields: impl FnOnce() -> Fields,
    ) {
        self.out
            .logs
            .extend(LogLine::new(level, message, task, fields));
    }
}

/// The fields of a line about the attempt `agent` holds.
fn held(agent: Id, attempt: u32) -> Fields {
    Fields {
        agent: Some(agent),
        attempt: Some(attempt),
        ..Fields::default()
    }
}
