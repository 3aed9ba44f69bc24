//! One thing wrong with one field of an input: what the gateway answers in a 422 and a command
//! in its `invalid` error, and what every validation rule reports.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
