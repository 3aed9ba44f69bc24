//! Building the events an agent reports, kept within the coordinator's validation rules.
//!
//! The coordinator dead-letters an event that breaks a field rule (a progress of 120 %, a
//! 30 000-character log line). An event the SDK sends on a handler's behalf must never be lost
//! that way, so texts are cut to their limits and numbers clamped before anything is queued.

use planexec_schemas::event::{AgentEvent, AgentEventBody};
use planexec_schemas::task::TaskAssignment;
use planexec_schemas::validate::limits;
use planexec_schemas::{Id, new_id};

/// The (execution, task, attempt) an event is about: the attempt is the fencing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskKey {
    pub execution_id: Id,
    pub task_id: Id,
    pub attempt: u32,
}

impl TaskKey {
    pub fn of(task: &TaskAssignment) -> Self {
        Self {
            execution_id: task.execution_id,
            task_id: task.task_id,
            attempt: task.attempt,
        }
    }
}

/// A new event about `key`, with a fresh UUIDv7 id and the current time.
pub fn event(key: TaskKey, body: AgentEventBody) -> AgentEvent {
    AgentEvent {
        event_id: new_id(),
        execution_id: key.execution_id,
        task_id: key.task_id,
        attempt: key.attempt,
        timestamp: chrono::Utc::now(),
        status: None,
        body: sanitise(body),
    }
}

/// The body within the coordinator's limits.
pub fn sanitise(body: AgentEventBody) -> AgentEventBody {
    match body {
        AgentEventBody::TaskProgress { progress, message } => AgentEventBody::TaskProgress {
            progress: if progress.is_finite() {
                progress.clamp(0.0, 100.0)
            } else {
                0.0
            },
            message: message.map(|m| cut(m, limits::TEXT)),
        },
        AgentEventBody::TaskFailed {
            error,
            retryable,
            retry_after_seconds,
        } => AgentEventBody::TaskFailed {
            error: non_empty(
                cut(error, limits::TEXT),
                "the agent failed without saying why",
            ),
            retryable,
            retry_after_seconds: retry_after_seconds
                .filter(|s| s.is_finite())
                .map(|s| s.clamp(0.0, f64::from(limits::TIMEOUT_SECONDS))),
        },
        AgentEventBody::TaskReleased { reason } => AgentEventBody::TaskReleased {
            reason: reason.map(|r| cut(r, limits::TEXT)),
        },
        AgentEventBody::Log { level, message } => AgentEventBody::Log {
            level,
            message: non_empty(cut(message, limits::TEXT), "(empty log line)"),
        },
        other @ (AgentEventBody::TaskStarted {} | AgentEventBody::TaskComplete { .. }) => other,
    }
}

/// At most `max` characters, marked as cut when it was.
fn cut(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    const MARK: &str = " [cut]";
    let mut out: String = text.chars().take(max - MARK.len()).collect();
    out.push_str(MARK);
    out
}

fn non_empty(text: String, fallback: &str) -> String {
    if text.trim().is_empty() {
        fallback.to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use planexec_schemas::event::LogLevel;
    use planexec_schemas::validate::Validate;

    use super::*;

    fn key() -> TaskKey {
        TaskKey {
            execution_id: new_id(),
            task_id: new_id(),
            attempt: 1,
        }
    }

    #[test]
    fn out_of_range_progress_and_overlong_texts_become_valid_events() {
        let bodies = [
            AgentEventBody::TaskProgress {
                progress: 140.0,
                message: Some("x".repeat(limits::TEXT + 10)),
            },
            AgentEventBody::TaskProgress {
                progress: f64::NAN,
                message: None,
            },
            AgentEventBody::TaskFailed {
                error: String::new(),
                retryable: true,
                retry_after_seconds: Some(1e12),
            },
            AgentEventBody::Log {
                level: LogLevel::Info,
                message: "y".repeat(limits::TEXT * 2),
            },
        ];
        for body in bodies {
            let event = event(key(), body);
            assert_eq!(event.validate(), Ok(()), "{event:?}");
        }
    }

    #[test]
    fn every_event_gets_its_own_time_ordered_id() {
        let (a, b) = (
            event(key(), AgentEventBody::TaskStarted {}),
            event(key(), AgentEventBody::TaskStarted {}),
        );
        assert!(a.event_id < b.event_id);
    }
}
