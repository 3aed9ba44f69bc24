//! Field-level validation of inputs, shared by the gateway (422 answers) and the coordinator.
//!
//! Parsing (serde) checks shapes; these rules check meaning: lengths, ranges, references.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use chrono::Datelike;
use serde_json::Value;

use crate::agent::capability;
use crate::api::{
    CreateExecutionRequest, RegisterAgentRequest, UpdateExecutionRequest, UpdatePlanTaskRequest,
};
use crate::event::{AgentEvent, AgentEventBody};
use crate::plan::PlanDocument;

/// One thing wrong with one field of an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FieldError {
    /// A JSON-pointer-like path: `capabilities[2]`, `phases[0].tasks[3].depends_on[0].key`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An input that can say what is wrong with it.
pub trait Validate {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        self.check(&mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Pushes every problem found; an empty list means valid.
    fn check(&self, errors: &mut Vec<FieldError>);
}

/// Upper bounds that keep one request from bloating the database.
pub mod limits {
    pub const NAME: usize = 200;
    pub const TEXT: usize = 20_000;
    pub const LABEL: usize = 64;
    pub const CAPABILITIES: usize = 64;
    pub const MAX_PARALLEL: u32 = 64;
    pub const MAX_ATTEMPTS: u32 = 20;
    pub const TIMEOUT_SECONDS: u32 = 7 * 24 * 3600;
    pub const PLAN_LEAVES: usize = 10_000;
}

/// Why text may not hold NUL: PostgreSQL cannot store it in `text` or `jsonb`, so a NUL that got
/// through would fail the transaction that records it (and every event batched with it).
const NO_NUL: &str = "must not contain the NUL character (\\u0000)";

/// Text without NUL characters.
fn nul_free(errors: &mut Vec<FieldError>, field: &str, value: &str) {
    if value.contains('\0') {
        errors.push(FieldError::new(field, NO_NUL));
    }
}

/// A JSON value whose strings and keys hold no NUL character; the first offender is named.
fn nul_free_json(errors: &mut Vec<FieldError>, field: &str, value: &Value) {
    match value {
        Value::String(s) => nul_free(errors, field, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let before = errors.len();
                nul_free_json(errors, &format!("{field}[{i}]"), item);
                if errors.len() > before {
                    return;
                }
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.contains('\0') {
                    errors.push(FieldError::new(field, format!("keys {NO_NUL}")));
                    return;
                }
                let before = errors.len();
                nul_free_json(errors, &format!("{field}.{key}"), item);
                if errors.len() > before {
                    return;
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize, required: bool) {
    if value.contains('\0') {
        errors.push(FieldError::new(field, NO_NUL));
    } else if required && value.trim().is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
}

fn capability_name(errors: &mut Vec<FieldError>, field: &str, name: &str) {
    if !capability::is_valid_name(name) {
        errors.push(FieldError::new(
            field,
            format!("{name:?} is not a capability name (lower snake case, 1-64 characters, e.g. send_email)"),
        ));
    }
}

fn range_u32(errors: &mut Vec<FieldError>, field: &str, value: Option<u32>, min: u32, max: u32) {
    if let Some(v) = value
        && !(min..=max).contains(&v)
    {
        errors.push(FieldError::new(
            field,
            format!("must be between {min} and {max}"),
        ));
    }
}

impl Validate for RegisterAgentRequest {
    fn check(&self, errors: &mut Vec<FieldError>) {
        text(errors, "name", &self.name, limits::NAME, true);
        text(errors, "role", &self.role, limits::LABEL, false);
        if self.capabilities.is_empty() {
            errors.push(FieldError::new(
                "capabilities",
                "an agent needs at least one capability",
            ));
        }
        if self.capabilities.len() > limits::CAPABILITIES {
            errors.push(FieldError::new(
                "capabilities",
                format!("at most {} capabilities", limits::CAPABILITIES),
            ));
        }
        let mut seen = HashSet::new();
        for (i, c) in self.capabilities.iter().enumerate() {
            capability_name(errors, &format!("capabilities[{i}]"), c);
            if !seen.insert(c) {
                errors.push(FieldError::new(
                    format!("capabilities[{i}]"),
                    format!("{c:?} is listed twice"),
                ));
            }
        }
    }
}

impl Validate for CreateExecutionRequest {
    fn check(&self, errors: &mut Vec<FieldError>) {
        range_u32(
            errors,
            "max_parallel",
            self.max_parallel,
            1,
            limits::MAX_PARALLEL,
        );
    }
}

impl Validate for UpdateExecutionRequest {
    fn check(&self, errors: &mut Vec<FieldError>) {
        if let Some(reason) = &self.reason {
            text(errors, "reason", reason, limits::TEXT, false);
        }
    }
}

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

impl Validate for UpdatePlanTaskRequest {
    fn check(&self, errors: &mut Vec<FieldError>) {
        if let Some(c) = &self.capability {
            capability_name(errors, "capability", c);
        }
        if let Some(params) = &self.params {
            nul_free_json(errors, "params", params);
        }
        range_u32(
            errors,
            "timeout_seconds",
            self.timeout_seconds,
            1,
            limits::TIMEOUT_SECONDS,
        );
        range_u32(
            errors,
            "max_attempts",
            self.max_attempts,
            1,
            limits::MAX_ATTEMPTS,
        );
        if self.capability.is_none()
            && self.params.is_none()
            && self.timeout_seconds.is_none()
            && self.max_attempts.is_none()
        {
            errors.push(FieldError::new(
                "",
                "nothing to change: give capability, params, timeout_seconds or max_attempts",
            ));
        }
    }
}

impl Validate for PlanDocument {
    fn check(&self, errors: &mut Vec<FieldError>) {
        text(errors, "title", &self.title, limits::NAME, true);
        text(
            errors,
            "description",
            &self.description,
            limits::TEXT,
            false,
        );
        if let Some(reference) = &self.source.reference {
            nul_free(errors, "source.reference", reference);
        }
        if let Some(id) = &self.source.planexe_project_id {
            nul_free(errors, "source.planexe_project_id", id);
        }
        if self.phases.is_empty() {
            errors.push(FieldError::new("phases", "a plan needs at least one phase"));
        }
        let mut keys = HashSet::new();
        let mut leaves = 0usize;
        let mut key = |errors: &mut Vec<FieldError>, field: String, k: &Option<String>| {
            if let Some(k) = k {
                nul_free(errors, &field, k);
                if !keys.insert(k.clone()) {
                    errors.push(FieldError::new(field, format!("key {k:?} is used twice")));
                }
            }
        };
        // What a leaf carries besides its title and description.
        let payload =
            |errors: &mut Vec<FieldError>, at: &str, params: &Value, resources: &[String]| {
                nul_free_json(errors, &format!("{at}.params"), params);
                for (r, resource) in resources.iter().enumerate() {
                    nul_free(errors, &format!("{at}.resources_needed[{r}]"), resource);
                }
            };
        for (p, phase) in self.phases.iter().enumerate() {
            let at = format!("phases[{p}]");
            key(errors, format!("{at}.key"), &phase.key);
            text(
                errors,
                &format!("{at}.title"),
                &phase.title,
                limits::NAME,
                true,
            );
            text(
                errors,
                &format!("{at}.description"),
                &phase.description,
                limits::TEXT,
                false,
            );
            for (t, task) in phase.tasks.iter().enumerate() {
                let at = format!("{at}.tasks[{t}]");
                key(errors, format!("{at}.key"), &task.key);
                text(
                    errors,
                    &format!("{at}.title"),
                    &task.title,
                    limits::NAME,
                    true,
                );
                text(
                    errors,
                    &format!("{at}.description"),
                    &task.description,
                    limits::TEXT,
                    false,
                );
                if let Some(c) = &task.capability {
                    capability_name(errors, &format!("{at}.capability"), c);
                }
                payload(errors, &at, &task.params, &task.resources_needed);
                range_u32(
                    errors,
                    &format!("{at}.timeout_seconds"),
                    task.timeout_seconds,
                    1,
                    limits::TIMEOUT_SECONDS,
                );
                range_u32(
                    errors,
                    &format!("{at}.max_attempts"),
                    task.max_attempts,
                    1,
                    limits::MAX_ATTEMPTS,
                );
                leaves += task.subtasks.len().max(1);
                for (s, sub) in task.subtasks.iter().enumerate() {
                    let at = format!("{at}.subtasks[{s}]");
                    key(errors, format!("{at}.key"), &sub.key);
                    text(
                        errors,
                        &format!("{at}.title"),
                        &sub.title,
                        limits::NAME,
                        true,
                    );
                    text(
                        errors,
                        &format!("{at}.description"),
                        &sub.description,
                        limits::TEXT,
                        false,
                    );
                    if let Some(c) = &sub.capability {
                        capability_name(errors, &format!("{at}.capability"), c);
                    }
                    payload(errors, &at, &sub.params, &sub.resources_needed);
                    range_u32(
                        errors,
                        &format!("{at}.timeout_seconds"),
                        sub.timeout_seconds,
                        1,
                        limits::TIMEOUT_SECONDS,
                    );
                    range_u32(
                        errors,
                        &format!("{at}.max_attempts"),
                        sub.max_attempts,
                        1,
                        limits::MAX_ATTEMPTS,
                    );
                }
            }
        }
        if leaves == 0 && !self.phases.is_empty() {
            errors.push(FieldError::new("phases", "the plan has no task to execute"));
        }
        if leaves > limits::PLAN_LEAVES {
            errors.push(FieldError::new(
                "phases",
                format!(
                    "{leaves} executable tasks; at most {} per plan",
                    limits::PLAN_LEAVES
                ),
            ));
        }
        // Dependencies may point at any task or phase key, before or after the task.
        for (p, phase) in self.phases.iter().enumerate() {
            for (t, task) in phase.tasks.iter().enumerate() {
                for (d, dep) in task.depends_on.iter().enumerate() {
                    if let Some(explanation) = &dep.explanation {
                        text(
                            errors,
                            &format!("phases[{p}].tasks[{t}].depends_on[{d}].explanation"),
                            explanation,
                            limits::TEXT,
                            false,
                        );
                    }
                    if dep.key.contains('\0') {
                        errors.push(FieldError::new(
                            format!("phases[{p}].tasks[{t}].depends_on[{d}].key"),
                            NO_NUL,
                        ));
                    } else if !keys.contains(&dep.key) {
                        errors.push(FieldError::new(
                            format!("phases[{p}].tasks[{t}].depends_on[{d}].key"),
                            format!("no task or phase has key {:?}", dep.key),
                        ));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str, capabilities: &[&str]) -> RegisterAgentRequest {
        RegisterAgentRequest {
            name: name.to_owned(),
            role: "assistant".to_owned(),
            capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn agent_without_capabilities_is_invalid_with_the_field_named() {
        let errors = agent("larry", &[])
            .validate()
            .expect_err("accepted an agent with no capability");
        assert_eq!(errors[0].field, "capabilities");
    }

    #[test]
    fn nul_characters_are_refused_wherever_they_hide() {
        let event = |body| AgentEvent {
            event_id: crate::new_id(),
            execution_id: crate::new_id(),
            task_id: crate::new_id(),
            attempt: 1,
            timestamp: chrono::Utc::now(),
            status: None,
            body,
        };
        let fields = |errors: Vec<FieldError>| -> Vec<String> {
            errors.into_iter().map(|e| e.field).collect()
        };
        let log = event(AgentEventBody::Log {
            level: crate::event::LogLevel::Info,
            message: "a\0b".into(),
        });
        assert_eq!(fields(log.validate().unwrap_err()), ["message"]);
        let output = event(AgentEventBody::TaskComplete {
            output: serde_json::json!({"rows": [{"name": "ok"}, {"name": "x\u{0}"}]}),
        });
        assert_eq!(
            fields(output.validate().unwrap_err()),
            ["output.rows[1].name"]
        );
        let key = event(AgentEventBody::TaskComplete {
            output: serde_json::json!({"nested": {"k\u{0}": 1}}),
        });
        assert_eq!(fields(key.validate().unwrap_err()), ["output.nested"]);
        assert_eq!(
            fields(agent("lar\0ry", &["send_email"]).validate().unwrap_err()),
            ["name"]
        );
    }

    #[test]
    fn event_times_outside_rfc_3339_years_are_refused() {
        let at = |text: &str| AgentEvent {
            event_id: crate::new_id(),
            execution_id: crate::new_id(),
            task_id: crate::new_id(),
            attempt: 1,
            timestamp: text.parse().expect("chrono reads it"),
            status: None,
            body: AgentEventBody::TaskStarted {},
        };
        assert!(at("0000-01-01T00:00:00Z").validate().is_ok());
        assert!(at("9999-12-31T23:59:59Z").validate().is_ok());
        let errors = at("-4714-01-01T00:00:00Z").validate().unwrap_err();
        assert_eq!(errors[0].field, "timestamp");
    }

    #[test]
    fn agent_capability_names_are_checked_one_by_one() {
        let errors = agent("larry", &["send_email", "Send Email", "send_email"])
            .validate()
            .expect_err("accepted bad capabilities");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["capabilities[1]", "capabilities[2]"]);
        assert!(agent("larry", &capability::LARRY).validate().is_ok());
    }
}
