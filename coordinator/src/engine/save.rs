//! Phase 4 of a transaction: what changed, written back. Tasks and their results in one
//! statement per table, executions in one, the history in one; every saved execution's version
//! is bumped, which is what cached states are checked against. The webhook notifications of
//! the changes are written here too, so they exist exactly when the changes committed.

use std::collections::HashMap;

use chrono::Duration;
use planexec_schemas::execution::{CurrentTask, ExecutionStatus};
use planexec_schemas::{Id, Timestamp};
use planexec_store::executions::ExecutionRow;
use planexec_store::executions::engine::{self, ExecutionSave, NodeSave};
use planexec_store::{events, webhooks};
use sqlx::PgConnection;

use super::load::Batch;
use super::state::table_of;
use crate::Error;
use crate::machine::ExecutionState;

/// Saves the batch; returns each saved execution's new version and update time.
pub(super) async fn save(
    conn: &mut PgConnection,
    batch: &mut Batch,
    publish_grace: Duration,
) -> Result<HashMap<Id, (i64, Timestamp)>, Error> {
    let mut node_saves = Vec::new();
    let mut execution_saves = Vec::new();
    let mut outputs = Vec::new();
    for entry in batch.entries.values_mut() {
        let saves = node_saves_of(&entry.before, &entry.state, &entry.effects.redispatched);
        let tasks_changed = !saves.is_empty();
        node_saves.extend(saves);
        if let Some(save) = execution_save(&entry.row, &entry.state, publish_grace, tasks_changed) {
            execution_saves.push(save);
        }
        outputs.append(&mut entry.effects.outputs);
    }
    engine::save_nodes(&mut *conn, &node_saves, &outputs).await?;
    let versions = engine::save_executions(&mut *conn, &execution_saves).await?;
    events::insert(&mut *conn, &batch.history).await?;
    let now = chrono::Utc::now();
    let notifications: Vec<_> = batch
        .entries
        .values()
        .flat_map(|e| crate::notify::of_change(&e.before, &e.state, now))
        .collect();
    webhooks::enqueue(&mut *conn, &notifications).await?;
    Ok(versions
        .into_iter()
        .map(|(id, version, at)| (id, (version, at)))
        .collect())
}

/// The nodes whose stored fields differ between `before` and `after`; `redispatched` lists the
/// indices dispatched anew in between.
fn node_saves_of(
    before: &ExecutionState,
    after: &ExecutionState,
    redispatched: &[usize],
) -> Vec<NodeSave> {
    after
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, n)| {
            let b = &before.nodes[*i];
            redispatched.contains(i)
                || b.status != n.status
                || b.attempt != n.attempt
                || b.failures != n.failures
                || b.assigned_agent != n.assigned_agent
                || b.progress != n.progress
                || b.lease_deadline != n.lease_deadline
                || b.next_attempt_at != n.next_attempt_at
                || b.dispatched_at != n.dispatched_at
                || b.started_at != n.started_at
                || b.finished_at != n.finished_at
                || (n.published && !n.published_stored)
        })
        .map(|(i, n)| NodeSave {
            table: table_of(after, i),
            id: n.spec.id,
            status: n.status,
            attempt: n.attempt,
            failures: n.failures,
            assigned_agent_id: n.assigned_agent,
            progress: n.progress,
            lease_deadline: n.lease_deadline,
            next_attempt_at: n.next_attempt_at,
            dispatched_at: n.dispatched_at,
            redispatched: redispatched.contains(&i),
            published: n.published,
            started_at: n.started_at,
            finished_at: n.finished_at,
        })
        .collect()
}

/// The execution's row as `state` says it should be; `None` when nothing stored would change.
/// When its tasks changed the row is saved anyway: every committed change bumps the version,
/// which is what cached states are checked against.
fn execution_save(
    row: &ExecutionRow,
    state: &ExecutionState,
    publish_grace: Duration,
    tasks_changed: bool,
) -> Option<ExecutionSave> {
    let current = state.current.map(|i| {
        let spec = &state.nodes[i].spec;
        CurrentTask {
            id: spec.id,
            wbs: spec.wbs.clone(),
            title: spec.title.clone(),
        }
    });
    let save = ExecutionSave {
        id: state.id,
        agent_id: state.agent_id,
        status: state.status,
        progress: state.progress,
        current,
        blocked_reason: state.blocked_reason,
        blocked_detail: state.blocked_detail.clone(),
        leaves_total: state.leaves_total(),
        leaves_done: state.leaves_done(),
        next_wakeup_at: wakeup(row.next_wakeup_at, state, publish_grace, chrono::Utc::now()),
        started_at: state.started_at,
        finished_at: state.finished_at,
    };
    let unchanged = row.agent_id == save.agent_id
        && row.status == save.status.as_str()
        && row.progress == save.progress
        && row.current_task_id == save.current.as_ref().map(|c| c.id)
        && row.blocked_reason.as_deref() == save.blocked_reason.map(|b| b.as_str())
        && row.blocked_detail == save.blocked_detail
        && i64::from(row.leaves_total) == i64::from(save.leaves_total)
        && i64::from(row.leaves_done) == i64::from(save.leaves_done)
        && row.next_wakeup_at == save.next_wakeup_at
        && row.started_at == save.started_at
        && row.finished_at == save.finished_at;
    (!unchanged || tasks_changed).then_some(save)
}

/// When the scheduler must look again: at once for an execution not yet started, else the
/// earliest stored deadline of its tasks; or the stored wakeup, while it is still ahead and no
/// later than that. Waking early costs the scheduler one look at the execution, which then
/// stores the exact time; rewriting the wakeup on every transaction (each dispatch moves it)
/// costs more: `next_wakeup_at` is indexed, so an update that changes it is never HOT and
/// writes every index of the row again.
fn wakeup(
    stored: Option<Timestamp>,
    state: &ExecutionState,
    publish_grace: Duration,
    now: Timestamp,
) -> Option<Timestamp> {
    let needed = match state.status {
        ExecutionStatus::Created => Some(now),
        ExecutionStatus::NeedsReview => None,
        _ => state.next_wakeup(publish_grace),
    };
    match (stored, needed) {
        (Some(stored), Some(needed)) if stored > now && stored <= needed => Some(stored),
        _ => needed,
    }
}

#[cfg(test)]
mod tests {
    use planexec_schemas::execution::{ExecutionStatus, TaskStatus};

    use super::*;
    use crate::engine::cache::tests::state;

    fn at(seconds: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("a valid time")
    }

    /// One leaf running under a lease that ends at `lease`.
    fn leased(lease: i64) -> ExecutionState {
        let mut state = state(ExecutionStatus::Running);
        state.nodes[0].status = TaskStatus::Running;
        state.nodes[0].lease_deadline = Some(at(lease));
        state
    }

    #[test]
    fn a_stored_wakeup_still_ahead_and_no_later_than_needed_is_kept() {
        let grace = Duration::seconds(5);
        assert_eq!(
            wakeup(Some(at(30)), &leased(90), grace, at(10)),
            Some(at(30))
        );
        assert_eq!(
            wakeup(Some(at(90)), &leased(90), grace, at(10)),
            Some(at(90))
        );
    }

    #[test]
    fn a_wakeup_that_came_is_too_late_or_is_not_needed_is_replaced() {
        let grace = Duration::seconds(5);
        assert_eq!(
            wakeup(Some(at(10)), &leased(90), grace, at(10)),
            Some(at(90)),
            "it came: the exact time"
        );
        assert_eq!(
            wakeup(Some(at(120)), &leased(90), grace, at(10)),
            Some(at(90)),
            "later than the lease: never"
        );
        assert_eq!(wakeup(None, &leased(90), grace, at(10)), Some(at(90)));
        assert_eq!(
            wakeup(
                Some(at(30)),
                &state(ExecutionStatus::Completed),
                grace,
                at(10)
            ),
            None,
            "an ended execution is not woken"
        );
    }
}
