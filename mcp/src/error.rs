//! What a tool call can run into. Every error reaches the assistant as a tool result with
//! `isError: true` and a structured body, so that it can read what went wrong and what to do.

use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The arguments do not fit the tool's input schema.
    #[error("invalid arguments: {0}")]
    Arguments(String),
    /// No bearer token came with the request.
    #[error(
        "no token: send the agent's or the operator's token as `Authorization: Bearer <token>`"
    )]
    NoToken,
    /// The tool is for the other kind of caller.
    #[error("{0}")]
    Forbidden(String),
    /// The API could not be reached or answered something unreadable.
    #[error("the planexec API is not reachable: {0}")]
    Unreachable(String),
    /// The API refused the request; `problem` is its application/problem+json body.
    #[error("the planexec API answered {status}")]
    Api { status: u16, problem: Value },
    /// The coordinator recorded the report but did not apply it.
    #[error("the report was not applied: {0}")]
    Rejected(String),
}

impl Error {
    /// The structured content of the error result.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Api { status, problem } => json!({
                "error": self.to_string(),
                "status": status,
                "problem": problem,
            }),
            other => json!({ "error": other.to_string() }),
        }
    }
}
