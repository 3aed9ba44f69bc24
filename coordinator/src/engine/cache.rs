//! Execution states kept between batches, so that a batch loads only what changed elsewhere.
//!
//! An entry is valid while the execution's `version` is the one it was saved at: every committed
//! change bumps the version, and the engine reads the version under the execution's row lock, so
//! a state another replica changed is simply reloaded. The one write that bypasses the version —
//! the confirmation that JetStream stored a dispatch — is applied to the entry directly.

use std::collections::HashMap;
use std::sync::Mutex;

use planexec_schemas::Id;

use crate::machine::ExecutionState;

/// Entries beyond this are evicted (arbitrary ones: they are only a shortcut).
const CAPACITY: usize = 4096;

#[derive(Debug, Default)]
pub struct StateCache {
    entries: Mutex<HashMap<Id, (i64, ExecutionState)>>,
}

impl StateCache {
    /// Takes the state of `id` out of the cache if it is the one at `version`.
    pub fn take(&self, id: Id, version: i64) -> Option<ExecutionState> {
        let mut entries = self.entries.lock().ok()?;
        match entries.remove(&id) {
            Some((at, state)) if at == version => Some(state),
            _ => None,
        }
    }

    /// Keeps `state` as the state of its execution at `version`; finished executions are dropped.
    pub fn put(&self, version: i64, state: ExecutionState) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if state.status.is_terminal() {
            entries.remove(&state.id);
            return;
        }
        if entries.len() >= CAPACITY {
            let evict: Vec<Id> = entries.keys().take(CAPACITY / 8).copied().collect();
            for id in evict {
                entries.remove(&id);
            }
        }
        entries.insert(state.id, (version, state));
    }

    /// Notes that JetStream stored the dispatch of `attempt` of leaf `task`.
    pub fn confirm_published(&self, execution: Id, task: Id, attempt: u32) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if let Some((_, state)) = entries.get_mut(&execution)
            && let Some(index) = state.index_of(task)
            && state.nodes[index].attempt == attempt
        {
            state.nodes[index].published = true;
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use planexec_schemas::execution::{ExecutionStatus, RoutingPolicy};

    use super::*;
    use crate::machine::{Node, NodeKind, NodeSpec};

    /// A running-or-not execution of one leaf, for the engine's tests.
    pub(in crate::engine) fn state(status: ExecutionStatus) -> ExecutionState {
        let leaf = Node::new(NodeSpec {
            id: Id::from_u128(2),
            kind: NodeKind::Task,
            parent: None,
            is_leaf: true,
            wbs: "1.1".into(),
            title: "t".into(),
            capability: Some("send_email".into()),
            deps: vec![],
            timeout_seconds: 60,
            max_attempts: 3,
        });
        ExecutionState {
            id: Id::from_u128(1),
            plan_id: Id::from_u128(3),
            agent_id: Id::from_u128(4),
            status,
            blocked_reason: None,
            blocked_detail: None,
            progress: 0.0,
            max_parallel: 1,
            routing: RoutingPolicy::Agent,
            current: None,
            nodes: vec![leaf],
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn a_state_is_reused_only_at_the_version_it_was_saved_at() {
        let cache = StateCache::default();
        cache.put(7, state(ExecutionStatus::Running));
        assert_eq!(
            cache.take(Id::from_u128(1), 8),
            None,
            "another version: reload"
        );
        assert_eq!(
            cache.take(Id::from_u128(1), 7),
            None,
            "a miss drops the entry"
        );
        cache.put(7, state(ExecutionStatus::Running));
        assert!(cache.take(Id::from_u128(1), 7).is_some());
    }

    #[test]
    fn finished_executions_are_not_kept_and_confirmations_reach_the_cached_state() {
        let cache = StateCache::default();
        cache.put(1, state(ExecutionStatus::Completed));
        assert_eq!(cache.take(Id::from_u128(1), 1), None);
        let mut running = state(ExecutionStatus::Running);
        running.nodes[0].attempt = 2;
        cache.put(5, running);
        cache.confirm_published(Id::from_u128(1), Id::from_u128(2), 1);
        cache.confirm_published(Id::from_u128(1), Id::from_u128(2), 2);
        let state = cache.take(Id::from_u128(1), 5).expect("cached");
        assert!(
            state.nodes[0].published,
            "the confirmation of attempt 2 applies"
        );
    }
}
