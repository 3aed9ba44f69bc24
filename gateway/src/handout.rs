//! Tasks handed out over HTTP, leased until their agent reports on them.
//!
//! A poll (ours or Conductor's), or the answer to an event, hands an HTTP agent a task taken
//! from its JetStream consumer. The message is not acknowledged then: it is held here until the
//! agent reports on that attempt (`task_started` as a rule, any event of it will do), and only
//! then acknowledged. An answer that never arrived, or a poll the agent abandoned, therefore
//! costs the consumer's ack wait (seconds), after which JetStream offers the task again; the
//! coordinator's queue timeout (an hour) is never reached. A hand-out that fails half-way (the
//! coordinators are away) gives the message back at once.
//!
//! A redelivered task may have been started meanwhile through another gateway; before handing
//! it out again, its attempt is looked up and an attempt that moved on is dropped
//! ([`still_waiting`]).

use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};
use planexec_schemas::Id;
use planexec_schemas::execution::TaskStatus;
use planexec_schemas::task::TaskAssignment;
use sqlx::PgPool;

use crate::error::ApiError;

/// The tasks this gateway handed out and no agent has reported on yet.
#[derive(Debug, Clone)]
pub struct Handouts {
    /// By `(task_id, attempt)`; an entry outlives the lease only briefly (JetStream has offered
    /// the task again by then, and the next hand-out replaces it).
    held: moka::sync::Cache<(Id, u32), Held>,
}

#[derive(Debug, Clone)]
struct Held {
    agent: Id,
    task: TaskAssignment,
    message: std::sync::Arc<Message>,
}

impl Default for Handouts {
    fn default() -> Self {
        Self::new(Duration::from_secs(120))
    }
}

impl Handouts {
    /// Entries live for `ttl` at most.
    pub fn new(ttl: Duration) -> Self {
        Self {
            held: moka::sync::Cache::builder()
                .time_to_live(ttl)
                .max_capacity(100_000)
                .build(),
        }
    }

    /// `task` was handed to `agent`; `message` is acknowledged when the agent reports on it.
    pub fn hold(&self, agent: Id, task: &TaskAssignment, message: Message) {
        self.held.insert(
            (task.task_id, task.attempt),
            Held {
                agent,
                task: task.clone(),
                message: std::sync::Arc::new(message),
            },
        );
    }

    /// The agent reported on the attempt: it has the task, which leaves its queue for good.
    pub async fn confirm(&self, task: Id, attempt: u32) {
        if let Some(held) = self.held.remove(&(task, attempt))
            && let Err(e) = held.message.ack().await
        {
            // Not fatal: the task is offered again after the lease and dropped then, as its
            // attempt has started (`still_waiting`).
            tracing::debug!(%task, attempt, error = %e, "acknowledging a handed-out task failed");
        }
    }

    /// The hand-out failed before the agent could have it: the task goes back at once.
    pub async fn give_back(&self, task: Id, attempt: u32) {
        if let Some(held) = self.held.remove(&(task, attempt)) {
            let _ = held.message.ack_with(AckKind::Nak(None)).await;
        }
    }

    /// A task handed to `agent` that it has not reported on: the answer that carried it may
    /// have been lost. Its lease starts again.
    pub async fn undelivered(&self, agent: Id) -> Option<TaskAssignment> {
        let (_, held) = self
            .held
            .iter()
            .filter(|(_, held)| held.agent == agent)
            .min_by_key(|(_, held)| held.task.dispatched_at)?;
        let _ = held.message.ack_with(AckKind::Progress).await;
        Some(held.task.clone())
    }
}

/// Whether the attempt of a redelivered `task` still waits for its agent (not started, not
/// superseded); one that moved on is not handed out again.
pub async fn still_waiting(pool: &PgPool, task: &TaskAssignment) -> Result<bool, ApiError> {
    let current =
        planexec_store::executions::read::leaf_attempt(pool, task.execution_id, task.task_id)
            .await?;
    Ok(current == Some((task.attempt, TaskStatus::Dispatched)))
}
