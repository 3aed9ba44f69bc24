//! Dispatch confirmations, written without a transaction of their own.
//!
//! Once JetStream acknowledges a dispatch, the database must learn it, or the scheduler would
//! publish the task again after the grace. Writing that at once cost every dispatch batch an
//! extra transaction, and its commit a flush to disk. Instead the confirmation rides in the
//! cached state of the execution ([`super::cache::StateCache::confirm_published`]) and is
//! written by the execution's next transaction, which in a running execution comes within
//! milliseconds (the agent's `task_started`). [`run`] writes the ones still pending after
//! [`FLUSH_AFTER`] on their own, and all of them at shutdown.
//!
//! Nothing here can lose or repeat work: a confirmation that never reaches the database (the
//! coordinator died) makes the scheduler publish the dispatch again under the same message id,
//! which JetStream drops as a duplicate, exactly as before.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use planexec_schemas::Id;
use planexec_store::executions::engine::{self, Published};
use tokio_util::sync::CancellationToken;

use super::Engine;

/// How long a confirmation may wait for its execution's next transaction.
pub const FLUSH_AFTER: Duration = Duration::from_secs(1);

/// Confirmations JetStream gave that the database does not hold yet, by (task, attempt).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    entries: Mutex<HashMap<(Id, u32), (Published, Instant)>>,
}

impl Pending {
    /// JetStream stored these dispatches.
    pub fn add(&self, confirmed: &[Published]) {
        self.add_since(confirmed, Instant::now());
    }

    /// Puts back confirmations pending since `at` (a flush skipped them).
    fn add_since(&self, confirmed: &[Published], at: Instant) {
        if let Ok(mut entries) = self.entries.lock() {
            for p in confirmed {
                entries.insert((p.task_id, p.attempt), (*p, at));
            }
        }
    }

    /// A committed transaction wrote these confirmations.
    pub fn written(&self, written: &[(Id, u32)]) {
        if written.is_empty() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            for key in written {
                entries.remove(key);
            }
        }
    }

    /// Takes the confirmations pending for at least `age`.
    fn take_older_than(&self, age: Duration) -> Vec<Published> {
        let Ok(mut entries) = self.entries.lock() else {
            return Vec::new();
        };
        let now = Instant::now();
        let due: Vec<(Id, u32)> = entries
            .iter()
            .filter(|(_, (_, at))| now.duration_since(*at) >= age)
            .map(|(key, _)| *key)
            .collect();
        due.into_iter()
            .filter_map(|key| entries.remove(&key).map(|(published, _)| published))
            .collect()
    }
}

impl Engine {
    /// Writes the confirmations pending for at least `age`, but those of executions another
    /// transaction holds (they stay pending, due at the next flush); returns how many it wrote.
    pub async fn flush_confirmations(&self, age: Duration) -> usize {
        let due = self.inner.confirmations.take_older_than(age);
        if due.is_empty() {
            return 0;
        }
        match engine::mark_published(self.pool(), &due).await {
            Ok(busy) => {
                let written = due.len() - busy.len();
                // Already due: pending since long enough ago to be taken next time.
                let since = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                self.inner.confirmations.add_since(&busy, since);
                written
            }
            Err(e) => {
                tracing::warn!(error = %e, count = due.len(), "dispatch confirmations not written; they are published again after the grace");
                0
            }
        }
    }
}

/// Writes straggling confirmations every half second, and all of them when shutting down.
pub async fn run(engine: Engine, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(FLUSH_AFTER / 2) => {}
        }
        engine.flush_confirmations(FLUSH_AFTER).await;
    }
    engine.flush_confirmations(Duration::ZERO).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(task: Id, attempt: u32) -> Published {
        Published {
            table: planexec_store::executions::NodeTable::Tasks,
            execution_id: planexec_schemas::new_id(),
            task_id: task,
            attempt,
        }
    }

    #[test]
    fn a_written_confirmation_is_not_flushed_and_a_straggler_is() {
        let pending = Pending::default();
        let (folded, straggler) = (planexec_schemas::new_id(), planexec_schemas::new_id());
        let late = published(straggler, 2);
        pending.add(&[published(folded, 1), late]);
        pending.written(&[(folded, 1)]);
        assert!(pending.take_older_than(Duration::from_secs(60)).is_empty());
        assert_eq!(pending.take_older_than(Duration::ZERO), vec![late]);
        assert!(pending.take_older_than(Duration::ZERO).is_empty());
    }

    #[test]
    fn a_skipped_confirmation_is_due_again_at_once() {
        let pending = Pending::default();
        let skipped = published(planexec_schemas::new_id(), 1);
        let since = Instant::now() - FLUSH_AFTER;
        pending.add_since(&[skipped], since);
        assert_eq!(pending.take_older_than(FLUSH_AFTER), vec![skipped]);
    }
}
