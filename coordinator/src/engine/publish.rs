//! Phase 5 of a transaction, after its commit: log what happened, keep each execution's state
//! for the next batch, and hand the dispatches, cancels and live updates to the outbox.

use std::collections::HashMap;

use chrono::Utc;
use planexec_schemas::execution::CurrentTask;
use planexec_schemas::task::TaskCancel;
use planexec_schemas::update::{ExecutionUpdate, TaskUpdate};
use planexec_schemas::{Id, Timestamp};

use super::cache::StateCache;
use super::effects::Dispatch;
use super::load::Batch;
use crate::machine::ExecutionState;

/// What the outbox sends once the transaction committed.
#[derive(Debug, Default)]
pub(super) struct Publication {
    pub dispatches: Vec<Dispatch>,
    pub cancels: Vec<(Id, TaskCancel)>,
    pub updates: Vec<ExecutionUpdate>,
    /// Dispatch confirmations the transaction wrote (task, attempt): no longer pending.
    pub confirmed: Vec<(Id, u32)>,
}

impl Batch {
    /// Logs the batch, caches its states at their new versions, and returns what to publish.
    pub(super) fn committed(
        self,
        versions: &HashMap<Id, (i64, Timestamp)>,
        cache: &StateCache,
    ) -> Publication {
        let mut publication = Publication::default();
        crate::metrics::history(&self.history);
        for entry in self.entries.into_values() {
            for line in &entry.effects.logs {
                line.emit(&entry.state);
            }
            crate::metrics::finished(&entry.before, &entry.state);
            let saved = versions.get(&entry.state.id);
            if let Some((version, at)) = saved {
                let update = update_of(&entry.before, &entry.state, *version, *at);
                publication.updates.push(update);
            }
            publication.dispatches.extend(entry.effects.dispatches);
            publication.cancels.extend(entry.effects.cancels);
            let version = saved.map_or(entry.row.version, |(v, _)| *v);
            let mut state = entry.state;
            for node in state.nodes.iter_mut() {
                if node.published && !node.published_stored {
                    publication.confirmed.push((node.spec.id, node.attempt));
                }
                node.published_stored = node.published;
            }
            cache.put(version, state);
        }
        publication
    }
}

/// The live update of an execution that changed: its figures and the tasks that moved.
fn update_of(
    before: &ExecutionState,
    after: &ExecutionState,
    version: i64,
    at: chrono::DateTime<Utc>,
) -> ExecutionUpdate {
    let tasks = after
        .nodes
        .iter()
        .zip(&before.nodes)
        .filter(|(a, b)| a.status != b.status || a.attempt != b.attempt || a.progress != b.progress)
        .map(|(a, _)| TaskUpdate {
            id: a.spec.id,
            wbs: a.spec.wbs.clone(),
            status: a.status,
            attempt: a.attempt,
            progress: a.progress,
        })
        .collect();
    ExecutionUpdate {
        execution_id: after.id,
        version,
        status: after.status,
        progress: after.progress,
        current_task: after.current.map(|i| CurrentTask {
            id: after.nodes[i].spec.id,
            wbs: after.nodes[i].spec.wbs.clone(),
            title: after.nodes[i].spec.title.clone(),
        }),
        blocked_reason: after.blocked_reason,
        tasks,
        at,
    }
}
