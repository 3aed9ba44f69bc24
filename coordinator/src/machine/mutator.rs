//! The working handle on a state: every mutation of an execution goes through it, and every
//! status change is checked against the transition map and recorded as a [`Change`].

use planexec_schemas::Id;
use planexec_schemas::execution::{ExecutionStatus, TaskStatus};

use super::state::ExecutionState;
use super::transitions::{validate_task_transition, validate_transition};
use super::vocabulary::{Change, Context, Rejection};

/// The working handle on a state: every mutation goes through it and is recorded.
pub(super) struct Mutator<'s, 'c, 'a> {
    /// The execution being changed.
    pub state: &'s mut ExecutionState,
    pub ctx: &'c Context<'a>,
    pub changes: &'s mut Vec<Change>,
}

impl Mutator<'_, '_, '_> {
    /// Moves the execution to `to`, recording why.
    pub fn set_status(&mut self, to: ExecutionStatus, reason: Option<String>) {
        let from = self.state.status;
        if from == to {
            return;
        }
        debug_assert!(
            validate_transition(from, to).is_ok(),
            "machine bug: {from} → {to}"
        );
        self.state.status = to;
        if to != ExecutionStatus::Blocked {
            self.state.blocked_reason = None;
            self.state.blocked_detail = None;
        }
        if to == ExecutionStatus::Running && self.state.started_at.is_none() {
            self.state.started_at = Some(self.ctx.now);
        }
        if to.is_terminal() {
            self.state.finished_at = Some(self.ctx.now);
        }
        self.changes.push(Change::Execution { from, to, reason });
    }

    /// Moves the node at `index` to `to`, keeping its times and deadlines consistent.
    pub fn set_task(&mut self, index: usize, to: TaskStatus) {
        let node = &mut self.state.nodes[index];
        let from = node.status;
        if from == to {
            return;
        }
        if node.spec.is_leaf {
            debug_assert!(
                validate_task_transition(from, to).is_ok(),
                "machine bug: task {from} → {to}"
            );
        }
        node.status = to;
        if matches!(
            to,
            TaskStatus::Completed
                | TaskStatus::Failed
                | TaskStatus::Cancelled
                | TaskStatus::Skipped
        ) {
            node.finished_at = Some(self.ctx.now);
        }
        if !to.is_in_flight() {
            node.lease_deadline = None;
        }
        if to != TaskStatus::RetryWait {
            node.next_attempt_at = None;
        }
        self.changes.push(Change::Task { index, from, to });
    }

    /// Tells the holder of an in-flight leaf to stop.
    pub fn revoke_if_in_flight(&mut self, index: usize, reason: &str) {
        let node = &self.state.nodes[index];
        if let (true, Some(agent)) = (node.status.is_in_flight(), node.assigned_agent) {
            self.changes.push(Change::Revoked {
                index,
                agent,
                attempt: node.attempt,
                reason: reason.to_owned(),
            });
        }
    }

    /// The index of leaf `task`, or why there is none.
    pub fn leaf(&self, task: Id) -> Result<usize, Rejection> {
        let index = self
            .state
            .index_of(task)
            .ok_or(Rejection::UnknownTask(task))?;
        if !self.state.nodes[index].spec.is_leaf {
            return Err(Rejection::NotALeaf(task));
        }
        Ok(index)
    }
}
