//! Field-level validation of inputs, shared by the gateway (422 answers) and the coordinator.
//!
//! Parsing (serde) checks shapes; these rules check meaning: lengths, ranges, references. This
//! module holds the [`Validate`] trait, the [`limits`] and the rules every input shares; the
//! inputs' own rules are in `requests` (API bodies), `event` (agents' events) and `plan` (plan
//! documents).

mod event;
mod plan;
mod requests;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::agent::capability;
pub use crate::field_error::FieldError;

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
pub(super) const NO_NUL: &str = "must not contain the NUL character (\\u0000)";

/// Text without NUL characters.
pub(super) fn nul_free(errors: &mut Vec<FieldError>, field: &str, value: &str) {
    if value.contains('\0') {
        errors.push(FieldError::new(field, NO_NUL));
    }
}

/// A JSON value whose strings and keys hold no NUL character; the first offender is named.
pub(super) fn nul_free_json(errors: &mut Vec<FieldError>, field: &str, value: &Value) {
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

pub(super) fn text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) {
    if value.contains('\0') {
        errors.push(FieldError::new(field, NO_NUL));
    } else if required && !value.chars().any(visible) {
        errors.push(FieldError::new(
            field,
            "must hold a visible character (not only spaces or zero-width characters)",
        ));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
}

/// A NUL-free text with at least one visible character, as a JSON Schema `pattern` (the same
/// characters as [`visible`]).
pub const VISIBLE_TEXT: &str = r"^[^\u0000]*[^\s\u0000\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0][^\u0000]*$";

/// A character that shows: not white space, not a zero-width or other invisible format character.
fn visible(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}')
}

pub(super) fn capability_name(errors: &mut Vec<FieldError>, field: &str, name: &str) {
    if !capability::is_valid_name(name) {
        errors.push(FieldError::new(
            field,
            format!("{name:?} is not a capability name (lower snake case, 1-64 characters, e.g. send_email)"),
        ));
    }
}

pub(super) fn range_u32(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<u32>,
    min: u32,
    max: u32,
) {
    if let Some(v) = value
        && !(min..=max).contains(&v)
    {
        errors.push(FieldError::new(
            field,
            format!("must be between {min} and {max}"),
        ));
    }
}
