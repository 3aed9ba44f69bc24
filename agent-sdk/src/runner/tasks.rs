//! The tasks an agent is running: starting one, cancelling one, and the life of each.
//!
//! Each task runs its handler in a tokio task of its own (a panic fails the attempt, not the
//! agent) and reports exactly one final event: `task_complete`, `task_failed` or
//! `task_released`, or nothing at all when the coordinator cancelled it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use planexec_schemas::Id;
use planexec_schemas::event::AgentEventBody;
use planexec_schemas::task::{TaskAssignment, TaskCancel};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::recent::Recent;
use crate::context::TaskContext;
use crate::events::{TaskKey, event};
use crate::handler::{Handler, TaskError, TaskErrorKind};
use crate::observer::Observer;
use crate::outbox::Outbox;

/// Room left in a message for its envelope (headers, subject) beyond the event's JSON.
const ENVELOPE_BYTES: usize = 4096;

/// How many tasks ended which way.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub released: AtomicU64,
    pub cancelled: AtomicU64,
}

/// What every task of one agent shares.
pub(crate) struct Tasks<H> {
    pub handler: Arc<H>,
    pub capabilities: HashSet<String>,
    pub agent_id: Id,
    pub outbox: Outbox,
    pub observer: Arc<dyn Observer>,
    /// One permit per task that may run at once.
    pub slots: Arc<Semaphore>,
    pub concurrency: usize,
    pub tracker: TaskTracker,
    /// Fires when the agent begins a graceful shutdown.
    pub shutting_down: CancellationToken,
    /// Fires when the shutdown grace is over: unfinished tasks are handed back.
    pub release_all: CancellationToken,
    pub stop_grace: Duration,
    pub max_event_bytes: usize,
    pub counters: Counters,
    running: Mutex<HashMap<TaskKey, CancellationToken>>,
    cancelled: Mutex<Recent>,
    /// Attempts that ran to their end here: an assignment delivered again (its acknowledgement
    /// was lost with a connection) is not run a second time.
    finished: Mutex<Recent>,
}

impl<H> std::fmt::Debug for Tasks<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks")
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

/// How a task's handler ended.
enum Ending {
    Returned(Result<Result<Value, TaskError>, tokio::task::JoinError>),
    Cancelled,
    Released,
}

impl<H: Handler> Tasks<H> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        handler: Arc<H>,
        agent_id: Id,
        outbox: Outbox,
        observer: Arc<dyn Observer>,
        concurrency: usize,
        stop_grace: Duration,
        max_event_bytes: usize,
    ) -> Self {
        let capabilities = handler.capabilities().into_iter().collect();
        Self {
            handler,
            capabilities,
            agent_id,
            outbox,
            observer,
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            tracker: TaskTracker::new(),
            shutting_down: CancellationToken::new(),
            release_all: CancellationToken::new(),
            stop_grace,
            max_event_bytes,
            counters: Counters::default(),
            running: Mutex::new(HashMap::new()),
            cancelled: Mutex::new(Recent::new(10_000)),
            finished: Mutex::new(Recent::new(10_000)),
        }
    }

    /// How many tasks the agent holds: running, or finished with the final event not yet
    /// confirmed (the coordinator must not hand those out again while it waits for it).
    pub fn in_flight(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or_default() + self.outbox.unconfirmed_endings()
    }

    /// A free slot, if there is one.
    pub fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Whether this attempt was cancelled before it came (or while it waited).
    pub fn was_cancelled(&self, key: &TaskKey) -> bool {
        self.cancelled.lock().is_ok_and(|c| c.contains(key))
    }

    /// Stops the handler of a cancelled attempt (if it runs here) and remembers the cancel.
    pub fn cancel(&self, cancel: &TaskCancel) {
        let key = TaskKey {
            execution_id: cancel.execution_id,
            task_id: cancel.task_id,
            attempt: cancel.attempt,
        };
        if let Ok(mut cancelled) = self.cancelled.lock() {
            cancelled.insert(key);
        }
        let token = self
            .running
            .lock()
            .ok()
            .and_then(|running| running.get(&key).cloned());
        match token {
            Some(token) => {
                tracing::info!(task = %cancel.task_id, attempt = cancel.attempt, reason = %cancel.reason, "the coordinator cancelled a running task");
                token.cancel();
            }
            None => {
                tracing::debug!(task = %cancel.task_id, attempt = cancel.attempt, "cancel for a task not running here")
            }
        }
    }

    /// Notes an assignment that is not run because its cancel came first.
    pub fn skip_cancelled(&self, task: &TaskAssignment) {
        tracing::info!(task = %task.task_id, attempt = task.attempt, wbs = %task.wbs,
            "skipping an assignment that was already cancelled");
    }

    /// Starts `task` in the slot `permit`, unless it was cancelled or is running already.
    pub fn start(self: &Arc<Self>, task: TaskAssignment, permit: OwnedSemaphorePermit) {
        let key = TaskKey::of(&task);
        if self.was_cancelled(&key) {
            self.skip_cancelled(&task);
            return;
        }
        if self.finished.lock().is_ok_and(|f| f.contains(&key)) {
            tracing::info!(task = %key.task_id, attempt = key.attempt,
                "assignment delivered again after it ran here; not run twice");
            return;
        }
        let cancel = CancellationToken::new();
        {
            let Ok(mut running) = self.running.lock() else {
                return;
            };
            if running.contains_key(&key) {
                tracing::debug!(task = %key.task_id, attempt = key.attempt, "assignment delivered twice; it is running already");
                return;
            }
            running.insert(key, cancel.clone());
        }
        let tasks = Arc::clone(self);
        self.tracker.spawn(async move {
            tasks.run(task, key, cancel).await;
            if let Ok(mut finished) = tasks.finished.lock() {
                finished.insert(key);
            }
            if let Ok(mut running) = tasks.running.lock() {
                running.remove(&key);
            }
            drop(permit);
        });
    }

    /// Hands back a task that was taken but never started (shutdown).
    pub async fn release_unstarted(&self, task: &TaskAssignment) {
        let body = AgentEventBody::TaskReleased {
            reason: Some("the agent shut down before starting the task".into()),
        };
        self.counters.released.fetch_add(1, Ordering::Relaxed);
        self.outbox.push(event(TaskKey::of(task), body)).await;
    }

    async fn run(&self, task: TaskAssignment, key: TaskKey, cancel: CancellationToken) {
        if !self.capabilities.contains(&task.capability) {
            let mut served: Vec<&str> = self.capabilities.iter().map(String::as_str).collect();
            served.sort_unstable();
            let error = TaskError::give_up(format!(
                "this agent does not serve the capability {:?} (it serves: {})",
                task.capability,
                served.join(", ")
            ));
            self.finish(key, Err(error)).await;
            return;
        }
        self.outbox
            .push(event(key, AgentEventBody::TaskStarted {}))
            .await;
        let ctx = TaskContext::new(
            self.agent_id,
            key,
            self.outbox.clone(),
            cancel.clone(),
            self.shutting_down.clone(),
        );
        let handler = Arc::clone(&self.handler);
        let mut join = tokio::spawn(async move { handler.handle(task, ctx).await });
        let ending = tokio::select! {
            biased;
            result = &mut join => Ending::Returned(result),
            _ = cancel.cancelled() => Ending::Cancelled,
            _ = self.release_all.cancelled() => Ending::Released,
        };
        // A cancelled attempt is over at the coordinator: whatever the handler says after the
        // cancel (often a release, as it was told to stop) is not reported.
        let ending = match ending {
            Ending::Returned(_) if self.was_cancelled(&key) => {
                self.counters.cancelled.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(task = %key.task_id, attempt = key.attempt, "cancelled: no final event");
                return;
            }
            other => other,
        };
        match ending {
            Ending::Returned(Ok(result)) => self.finish(key, result).await,
            Ending::Returned(Err(e)) => {
                let error = TaskError::retry(format!("the handler panicked: {e}"));
                self.finish(key, Err(error)).await;
            }
            Ending::Cancelled => {
                self.stop(join).await;
                self.counters.cancelled.fetch_add(1, Ordering::Relaxed);
            }
            Ending::Released => {
                cancel.cancel();
                self.stop(join).await;
                if self.was_cancelled(&key) {
                    self.counters.cancelled.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let error = TaskError::release("the agent shut down before the task finished");
                self.finish(key, Err(error)).await;
            }
        }
    }

    /// Gives a stopped handler `stop_grace` to return (its answer is ignored), then drops it.
    async fn stop(&self, mut join: JoinHandle<Result<Value, TaskError>>) {
        if tokio::time::timeout(self.stop_grace, &mut join)
            .await
            .is_err()
        {
            join.abort();
        }
    }

    /// Reports the final event of an attempt.
    async fn finish(&self, key: TaskKey, result: Result<Value, TaskError>) {
        let body = match result {
            Ok(output) => self.complete(output),
            Err(error) => {
                match error.kind() {
                    TaskErrorKind::Release => &self.counters.released,
                    TaskErrorKind::Retry | TaskErrorKind::GiveUp => &self.counters.failed,
                }
                .fetch_add(1, Ordering::Relaxed);
                if error.kind() != TaskErrorKind::Release {
                    tracing::info!(task = %key.task_id, attempt = key.attempt, error = %error, "task failed");
                }
                error.to_event_body()
            }
        };
        debug_assert!(
            body.event_type().ends_attempt(),
            "the last event of an attempt must end it, not {:?}",
            body.event_type()
        );
        self.outbox.push(event(key, body)).await;
    }

    /// `task_complete`, or a give-up when the output cannot be carried.
    fn complete(&self, output: Value) -> AgentEventBody {
        let bytes = serde_json::to_vec(&output).map(|v| v.len()).unwrap_or(0);
        let limit = self.max_event_bytes.saturating_sub(ENVELOPE_BYTES);
        if bytes > limit {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
            return TaskError::give_up(format!(
                "the task's output is {bytes} bytes, more than the {limit} bytes an event may carry; \
                 store large results elsewhere and return a reference"
            ))
            .to_event_body();
        }
        self.counters.completed.fetch_add(1, Ordering::Relaxed);
        AgentEventBody::TaskComplete { output }
    }
}
