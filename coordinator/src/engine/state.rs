//! Between stored rows and the machine's picture: build an [`ExecutionState`] from rows, and
//! turn what changed back into saves.

use std::collections::HashMap;

use chrono::Duration;
use planexec_schemas::Id;
use planexec_schemas::execution::CurrentTask;
use planexec_store::executions::engine::{ExecutionSave, NodeRow, NodeSave};
use planexec_store::executions::{ExecutionRow, NodeTable};

use crate::machine::{ExecutionState, Node, NodeKind, NodeSpec};

/// The machine's picture of an execution, from its locked row and its tasks.
pub fn build(
    row: &ExecutionRow,
    nodes: &[NodeRow],
) -> Result<ExecutionState, planexec_store::Error> {
    let index_of: HashMap<Id, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let mut built = Vec::with_capacity(nodes.len());
    for row in nodes {
        let spec = NodeSpec {
            id: row.id,
            kind: if row.is_subtask {
                NodeKind::Subtask
            } else {
                NodeKind::Task
            },
            parent: row.task_id.and_then(|t| index_of.get(&t).copied()),
            is_leaf: row.is_leaf,
            wbs: row.wbs.clone(),
            title: row.title.clone(),
            capability: row.capability.clone(),
            deps: row
                .depends_on
                .iter()
                .filter_map(|d| index_of.get(d).copied())
                .collect(),
            timeout_seconds: u32::try_from(row.timeout_seconds).unwrap_or(1).max(1),
            max_attempts: u32::try_from(row.max_attempts).unwrap_or(1).max(1),
        };
        let mut node = Node::new(spec);
        node.status = row.status()?;
        node.attempt = u32::try_from(row.attempt).unwrap_or(0);
        node.failures = u32::try_from(row.failures).unwrap_or(0);
        node.assigned_agent = row.assigned_agent_id;
        node.progress = row.progress;
        node.lease_deadline = row.lease_deadline;
        node.next_attempt_at = row.next_attempt_at;
        node.dispatched_at = row.dispatched_at;
        node.published = row.published_at.is_some();
        node.started_at = row.started_at;
        node.finished_at = row.finished_at;
        built.push(node);
    }
    Ok(ExecutionState {
        id: row.id,
        plan_id: row.plan_id,
        agent_id: row.agent_id,
        status: row.status()?,
        blocked_reason: row.blocked_reason()?,
        blocked_detail: row.blocked_detail.clone(),
        progress: row.progress,
        max_parallel: u32::try_from(row.max_parallel).unwrap_or(1).max(1),
        routing: row.routing()?,
        current: row
            .current_task_id
            .and_then(|id| index_of.get(&id).copied()),
        nodes: built,
        started_at: row.started_at,
        finished_at: row.finished_at,
    })
}

pub fn table_of(state: &ExecutionState, index: usize) -> NodeTable {
    match state.nodes[index].spec.kind {
        NodeKind::Task => NodeTable::Tasks,
        NodeKind::Subtask => NodeTable::Subtasks,
    }
}

/// The nodes whose stored fields differ between `before` and `after`; `redispatched` lists the
/// indices dispatched anew in between.
pub fn node_saves(
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
            started_at: n.started_at,
            finished_at: n.finished_at,
        })
        .collect()
}

/// The execution's row as `state` says it should be; `None` when nothing stored would change.
/// When its tasks changed the row is saved anyway: every committed change bumps the version,
/// which is what cached states are checked against.
pub fn execution_save(
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
        next_wakeup_at: wakeup(state, publish_grace),
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
/// earliest stored deadline of its tasks.
fn wakeup(state: &ExecutionState, publish_grace: Duration) -> Option<planexec_schemas::Timestamp> {
    use planexec_schemas::execution::ExecutionStatus;
    match state.status {
        ExecutionStatus::Created => Some(chrono::Utc::now()),
        ExecutionStatus::NeedsReview => None,
        _ => state.next_wakeup(publish_grace),
    }
}
