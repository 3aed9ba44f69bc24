//! What a handler can do besides returning: report progress and log lines, and notice that it
//! should stop.

use planexec_schemas::Id;
use planexec_schemas::event::{AgentEventBody, LogLevel};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::events::{TaskKey, event};
use crate::outbox::Outbox;

/// Handed to [`crate::Handler::handle`] with each task; cheap to clone.
#[derive(Debug, Clone)]
pub struct TaskContext {
    agent_id: Id,
    key: TaskKey,
    outbox: Outbox,
    /// Fires when the coordinator cancels this attempt, or when the agent shuts down and the
    /// grace has run out; the handler is dropped shortly after.
    cancel: CancellationToken,
    /// Fires when the agent begins a graceful shutdown (it stops taking tasks).
    shutting_down: CancellationToken,
}

impl TaskContext {
    pub(crate) fn new(
        agent_id: Id,
        key: TaskKey,
        outbox: Outbox,
        cancel: CancellationToken,
        shutting_down: CancellationToken,
    ) -> Self {
        Self {
            agent_id,
            key,
            outbox,
            cancel,
            shutting_down,
        }
    }

    /// Reports partial progress: `percent` of this task (clamped to 0..100) and what is going
    /// on. Waits only when the agent's event buffer is full.
    pub async fn progress(&self, percent: f64, message: impl Into<String>) {
        let message = message.into();
        let body = AgentEventBody::TaskProgress {
            progress: percent,
            message: Some(message).filter(|m| !m.is_empty()),
        };
        self.outbox.push(event(self.key, body)).await;
    }

    /// Reports progress with a short label of what the agent is doing ("dialing"); the label is
    /// the event's `status` (at most 64 characters).
    pub async fn progress_with_status(
        &self,
        percent: f64,
        message: impl Into<String>,
        status: impl Into<String>,
    ) {
        let message = message.into();
        let mut progress = event(
            self.key,
            AgentEventBody::TaskProgress {
                progress: percent,
                message: Some(message).filter(|m| !m.is_empty()),
            },
        );
        let status: String = status
            .into()
            .chars()
            .take(planexec_schemas::validate::limits::LABEL)
            .collect();
        progress.status = Some(status);
        self.outbox.push(progress).await;
    }

    /// Records a log line in the task's history.
    pub async fn log(&self, level: LogLevel, message: impl Into<String>) {
        let body = AgentEventBody::Log {
            level,
            message: message.into(),
        };
        self.outbox.push(event(self.key, body)).await;
    }

    /// Completes when the task must stop: the coordinator cancelled this attempt, or the agent
    /// is shutting down and the grace is over. Nothing the handler returns afterwards is
    /// reported.
    pub fn cancelled(&self) -> WaitForCancellationFutureOwned {
        self.cancel.clone().cancelled_owned()
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The token behind [`TaskContext::cancelled`], for work the handler spawns.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Fires when the agent starts shutting down. A long handler may then stop early and return
    /// [`crate::TaskError::release`] to hand the task back at once, rather than wait for the
    /// grace to run out.
    pub fn shutting_down(&self) -> CancellationToken {
        self.shutting_down.clone()
    }

    pub fn agent_id(&self) -> Id {
        self.agent_id
    }

    pub fn execution_id(&self) -> Id {
        self.key.execution_id
    }

    pub fn task_id(&self) -> Id {
        self.key.task_id
    }

    pub fn attempt(&self) -> u32 {
        self.key.attempt
    }
}
