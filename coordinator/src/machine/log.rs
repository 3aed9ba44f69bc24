//! Logging of every change the machine makes, with the execution and task named.

use super::derive::Change;
use super::state::ExecutionState;

/// Logs each change of a transition of `state` (the state after the changes).
pub fn log_changes(state: &ExecutionState, changes: &[Change]) {
    let execution = state.id;
    let wbs = |index: &usize| state.nodes.get(*index).map_or("?", |n| n.spec.wbs.as_str());
    for change in changes {
        match change {
            Change::Execution { from, to, reason } => {
                tracing::info!(%execution, %from, %to, reason = reason.as_deref().unwrap_or(""), "execution status changed");
            }
            Change::BlockedReason { reason, detail } => {
                tracing::info!(%execution, reason = reason.as_str(), detail, "execution block changed");
            }
            Change::Task { index, from, to } => {
                tracing::debug!(%execution, task = wbs(index), %from, %to, "task status changed");
            }
            Change::Dispatched {
                index,
                agent,
                attempt,
            } => {
                tracing::debug!(%execution, task = wbs(index), %agent, attempt, "task dispatched");
            }
            Change::Republish {
                index,
                agent,
                attempt,
            } => {
                tracing::warn!(%execution, task = wbs(index), %agent, attempt, "dispatch unconfirmed; publishing again");
            }
            Change::RetryScheduled {
                index,
                attempt,
                failures,
                at,
                error,
            } => {
                tracing::info!(%execution, task = wbs(index), attempt, failures, %at, error, "retry scheduled");
            }
            Change::GaveUp {
                index,
                attempt,
                failures,
                error,
            } => {
                tracing::warn!(%execution, task = wbs(index), attempt, failures, error, "task failed for good");
            }
            Change::TimedOut {
                index,
                attempt,
                deadline,
            } => {
                tracing::warn!(%execution, task = wbs(index), attempt, %deadline, "task timed out");
            }
            Change::Revoked {
                index,
                agent,
                attempt,
                reason,
            } => {
                tracing::info!(%execution, task = wbs(index), %agent, attempt, reason, "task revoked from agent");
            }
            Change::Reassigned {
                index,
                attempt,
                from,
                to,
            } => {
                tracing::info!(%execution, task = wbs(index), attempt, from = ?from, %to, "task reassigned");
            }
            Change::Skipped { index } => {
                tracing::info!(%execution, task = wbs(index), "task skipped")
            }
            Change::Completed { index, .. } => {
                tracing::debug!(%execution, task = wbs(index), "task completed")
            }
            Change::Failed { index, error } => {
                tracing::debug!(%execution, task = wbs(index), error, "attempt failed")
            }
        }
    }
}
