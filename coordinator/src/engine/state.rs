//! From stored rows to the machine's picture: an [`ExecutionState`] built from an execution's
//! row and its tasks' rows.

use std::collections::HashMap;

use planexec_schemas::Id;
use planexec_store::executions::engine::NodeRow;
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
        node.published_stored = node.published;
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

/// The table the node at `index` is stored in.
pub fn table_of(state: &ExecutionState, index: usize) -> NodeTable {
    match state.nodes[index].spec.kind {
        NodeKind::Task => NodeTable::Tasks,
        NodeKind::Subtask => NodeTable::Subtasks,
    }
}
