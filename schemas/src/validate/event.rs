//! The rules of an agent's event: its attempt, its time, and the fields of each kind of event.

use chrono::Datelike;

use super::{FieldError, Validate, limits, nul_free_json, text};
use crate::event::{AgentEvent, AgentEventBody};

impl Validate for AgentEvent {
    fn check(&self, errors: &mut Vec<FieldError>) {
        if self.attempt == 0 {
            errors.push(FieldError::new("attempt", "attempts are numbered from 1"));
        }
        // RFC 3339 years; chrono reads more (negative years), PostgreSQL stores less.
        if !(0..=9999).contains(&self.timestamp.year()) {
            errors.push(FieldError::new(
                "timestamp",
                "must be an RFC 3339 time between the years 0000 and 9999",
            ));
        }
        if let Some(status) = &self.status {
            text(errors, "status", status, limits::LABEL, false);
        }
        match &self.body {
            AgentEventBody::TaskProgress { progress, message } => {
                if !progress.is_finite() || !(0.0..=100.0).contains(progress) {
                    errors.push(FieldError::new(
                        "progress",
                        "must be a percentage between 0 and 100",
                    ));
                }
                if let Some(m) = message {
                    text(errors, "message", m, limits::TEXT, false);
                }
            }
            AgentEventBody::TaskFailed {
                error,
                retry_after_seconds,
                ..
            } => {
                text(errors, "error", error, limits::TEXT, true);
                if let Some(s) = retry_after_seconds
                    && (!s.is_finite() || *s < 0.0 || *s > f64::from(limits::TIMEOUT_SECONDS))
                {
                    errors.push(FieldError::new(
                        "retry_after_seconds",
                        "must be between 0 and one week",
                    ));
                }
            }
            AgentEventBody::TaskReleased { reason: Some(r) } => {
                text(errors, "reason", r, limits::TEXT, false);
            }
            AgentEventBody::Log { message, .. } => {
                text(errors, "message", message, limits::TEXT, true)
            }
            AgentEventBody::TaskComplete { output } => nul_free_json(errors, "output", output),
            AgentEventBody::TaskStarted {} | AgentEventBody::TaskReleased { reason: None } => {}
        }
    }
}
