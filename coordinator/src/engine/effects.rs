//! What a transition means outside the machine: every [`Change`] becomes, here and only here, the
//! history rows, the dispatches and cancels to publish, the results and errors to store, and the
//! line to log.
//!
//! History rows, results and errors are written in the transaction; dispatches, cancels and log
//! lines wait for its commit (a line logged before a failed commit would tell of something that
//! never happened).

use planexec_schemas::event::{AgentEvent, CoordinatorEvent, Disposition};
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::task::TaskCancel;
use planexec_schemas::{Id, Timestamp, new_id};
use planexec_store::events::NewEvent;
use planexec_store::executions::NodeTable;
use planexec_store::executions::engine::NodeOutput;
use tracing::Level;

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

/// A line about an execution, logged after the commit.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    level: Level,
    message: &'static str,
    /// The task's index, shown as its WBS number.
    task: Option<usize>,
    agent: Option<Id>,
    attempt: Option<u32>,
    detail: String,
}

impl LogLine {
    /// Logs the line; `state` names the execution and the task.
    pub fn emit(&self, state: &ExecutionState) {
        let execution = state.id;
        let task = self
            .task
            .map(|i| state.nodes.get(i).map_or("?", |n| n.spec.wbs.as_str()));
        let agent = self.agent.map(|a| a.to_string());
        let attempt = self.attempt;
        let detail = (!self.detail.is_empty()).then_some(self.detail.as_str());
        let message = self.message;
        if self.level >= Level::DEBUG {
            tracing::debug!(%execution, task, agent, attempt, detail, "{message}");
        } else if self.level == Level::INFO {
            tracing::info!(%execution, task, agent, attempt, detail, "{message}");
        } else {
            tracing::warn!(%execution, task, agent, attempt, detail, "{message}");
        }
    }
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
                self.log(L::INFO, "execution block changed", None, None, || {
                    format!("{}: {detail}", reason.as_str())
                })
            }
            Change::Task { index, from, to } => {
                self.log(L::DEBUG, "task status changed", Some(*index), None, || {
                    format!("{from} → {to}")
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
                self.log(
                    L::WARN,
                    message,
                    Some(*index),
                    Some((*agent, *attempt)),
                    String::new,
                );
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
        self.log(Level::INFO, "execution status changed", None, None, || {
            format!("{from} → {to} ({})", reason.as_deref().unwrap_or(""))
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
        self.log(
            Level::DEBUG,
            "task dispatched",
            Some(index),
            Some((agent, attempt)),
            String::new,
        );
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
        self.log(Level::INFO, "retry scheduled", Some(index), None, || {
            format!("attempt {attempt}, {failures} failure(s), next at {at}: {error}")
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
        self.log(
            Level::WARN,
            "task failed for good",
            Some(index),
            None,
            || format!("attempt {attempt}, {failures} failure(s): {error}"),
        );
    }

    fn timed_out(&mut self, index: usize, attempt: u32, deadline: Timestamp) {
        self.history(
            Some(index),
            Some(attempt),
            CoordinatorEvent::TaskTimedOut { attempt, deadline },
        );
        self.log(Level::WARN, "task timed out", Some(index), None, || {
            format!("attempt {attempt}, deadline {deadline}")
        });
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
        self.log(
            Level::INFO,
            "task revoked from agent",
            Some(index),
            Some((agent, attempt)),
            || reason.to_owned(),
        );
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
        self.log(Level::INFO, "task reassigned", Some(index), None, || {
            format!("attempt {attempt}, from {from:?} to {to}")
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
        self.log(Level::INFO, "task skipped", Some(index), None, String::new);
    }

    fn completed(&mut self, index: usize, output: &serde_json::Value) {
        self.out.outputs.push(NodeOutput::Result {
            table: table_of(self.state, index),
            id: self.state.nodes[index].spec.id,
            value: output.clone(),
        });
        self.log(
            Level::DEBUG,
            "task completed",
            Some(index),
            None,
            String::new,
        );
    }

    fn failed(&mut self, index: usize, error: &str) {
        self.out.outputs.push(NodeOutput::Error {
            table: table_of(self.state, index),
            id: self.state.nodes[index].spec.id,
            message: error.to_owned(),
        });
        self.log(Level::DEBUG, "attempt failed", Some(index), None, || {
            error.to_owned()
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
        });
    }

    /// A line to log after the commit; its detail is only made when the level is logged.
    fn log(
        &mut self,
        level: Level,
        message: &'static str,
        task: Option<usize>,
        holder: Option<(Id, u32)>,
        detail: impl FnOnce() -> String,
    ) {
        if !tracing::level_enabled!(level) {
            return;
        }
        self.out.logs.push(LogLine {
            level,
            message,
            task,
            agent: holder.map(|h| h.0),
            attempt: holder.map(|h| h.1),
            detail: detail(),
        });
    }
}
