//! The one trait an agent author implements, and the error a handler returns.
//!
//! A handler does the work of one task; the SDK does everything around it (taking the task off
//! the queue, `task_started`, heartbeats, delivering events, retries of deliveries, cancels,
//! shutdown). What the handler returns decides the last event: its output becomes
//! `task_complete`, a [`TaskError`] becomes `task_failed` (retry later or give up) or
//! `task_released` (hand the task back unfinished).

use std::future::Future;
use std::time::Duration;

use planexec_schemas::event::AgentEventBody;
use planexec_schemas::task::TaskAssignment;
use serde_json::Value;

use crate::context::TaskContext;

/// Does the work of the capabilities it serves.
///
/// The runner calls [`Handler::handle`] once per assignment, up to `concurrency` at a time, each
/// in its own tokio task (a panic fails the attempt; it does not stop the agent).
pub trait Handler: Send + Sync + 'static {
    /// The capabilities this handler serves (e.g. `["send_email"]`). An assignment of any
    /// other capability is failed at once without retry.
    fn capabilities(&self) -> Vec<String>;

    /// Does one task. `Ok(output)` completes it; `Err` fails or releases it (see [`TaskError`]).
    fn handle(
        &self,
        task: TaskAssignment,
        ctx: TaskContext,
    ) -> impl Future<Output = Result<Value, TaskError>> + Send;
}

/// What to do about a task the handler could not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskErrorKind {
    /// A passing problem (busy line, server down): try again, as a new attempt.
    Retry,
    /// Trying again cannot help (invalid input, permanent refusal): the execution blocks.
    GiveUp,
    /// Not a failure: the agent hands the task back unfinished (it is shutting down) and it is
    /// dispatched again without counting an attempt as failed.
    Release,
}

/// Why a handler did not complete its task.
///
/// Any `std::error::Error` converts into a retryable `TaskError`, so `?` works in handlers;
/// say [`TaskError::give_up`] explicitly when retrying cannot help.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskError {
    kind: TaskErrorKind,
    message: String,
    retry_after: Option<Duration>,
}

impl TaskError {
    /// A passing failure: the coordinator retries after its back-off.
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            kind: TaskErrorKind::Retry,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A passing failure that should not be retried before `after` (a rate limit, a callback
    /// time); the coordinator waits for the longer of this and its own back-off.
    pub fn retry_after(message: impl Into<String>, after: Duration) -> Self {
        Self {
            retry_after: Some(after),
            ..Self::retry(message)
        }
    }

    /// A failure that retrying cannot fix: no further attempt, the execution blocks.
    pub fn give_up(message: impl Into<String>) -> Self {
        Self {
            kind: TaskErrorKind::GiveUp,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Hands the task back unfinished (for instance when [`TaskContext::shutting_down`]
    /// fired); another attempt is dispatched without counting a failure.
    pub fn release(reason: impl Into<String>) -> Self {
        Self {
            kind: TaskErrorKind::Release,
            message: reason.into(),
            retry_after: None,
        }
    }

    pub fn kind(&self) -> TaskErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn retry_after_duration(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The event that reports this error.
    pub fn to_event_body(&self) -> AgentEventBody {
        match self.kind {
            TaskErrorKind::Retry | TaskErrorKind::GiveUp => AgentEventBody::TaskFailed {
                error: if self.message.trim().is_empty() {
                    "the agent failed without saying why".to_owned()
                } else {
                    self.message.clone()
                },
                retryable: self.kind == TaskErrorKind::Retry,
                retry_after_seconds: self.retry_after.map(|d| d.as_secs_f64()),
            },
            TaskErrorKind::Release => AgentEventBody::TaskReleased {
                reason: Some(self.message.clone()).filter(|m| !m.trim().is_empty()),
            },
        }
    }
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            TaskErrorKind::Retry => "retry later",
            TaskErrorKind::GiveUp => "give up",
            TaskErrorKind::Release => "released",
        };
        write!(f, "{what}: {}", self.message)
    }
}

/// `?` on any error fails the attempt as retryable, with the error and its causes as message.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::retry(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_error_is_a_retryable_task_failed_with_its_wish_for_a_back_off() {
        let body =
            TaskError::retry_after("rate limited", Duration::from_millis(1500)).to_event_body();
        assert_eq!(
            body,
            AgentEventBody::TaskFailed {
                error: "rate limited".into(),
                retryable: true,
                retry_after_seconds: Some(1.5),
            }
        );
    }

    #[test]
    fn a_give_up_error_is_a_task_failed_that_is_not_retryable() {
        let body = TaskError::give_up("no such recipient").to_event_body();
        assert!(matches!(
            body,
            AgentEventBody::TaskFailed {
                retryable: false,
                retry_after_seconds: None,
                ..
            }
        ));
    }

    #[test]
    fn a_release_is_a_task_released_not_a_failure() {
        let body = TaskError::release("shutting down").to_event_body();
        assert_eq!(
            body,
            AgentEventBody::TaskReleased {
                reason: Some("shutting down".into())
            }
        );
    }

    #[test]
    fn any_std_error_converts_to_a_retryable_error_with_its_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "smtp timed out");
        let error = TaskError::from(io);
        assert_eq!(error.kind(), TaskErrorKind::Retry);
        assert_eq!(error.message(), "smtp timed out");
    }

    #[test]
    fn an_empty_failure_message_is_replaced_because_the_coordinator_requires_one() {
        let body = TaskError::give_up("  ").to_event_body();
        assert!(
            matches!(body, AgentEventBody::TaskFailed { error, .. } if !error.trim().is_empty())
        );
    }
}
