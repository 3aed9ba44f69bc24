//! The one error type of the SDK: what went wrong talking to planexec, said precisely enough
//! that an agent author knows whether to fix a setting, wait, or call an operator.

use planexec_schemas::Id;
use planexec_schemas::api::Problem;
use planexec_schemas::command::CommandError;

/// Everything that can go wrong between an agent and planexec.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gateway refused the token (HTTP 401).
    #[error(
        "the gateway refused the token (401): {detail}. Check the agent id and token (or the \
         operator token when registering)"
    )]
    Unauthorised { detail: String },

    /// The token is valid but does not allow this (HTTP 403): another agent's work or task.
    #[error("forbidden (403): {detail}")]
    Forbidden { detail: String },

    /// The agent does not exist: never registered, or registered in another namespace.
    #[error(
        "agent {agent_id} is not registered ({detail}); register it first (POST /api/agents or \
         the register_agent command) and use the id it returns"
    )]
    UnknownAgent { agent_id: Id, detail: String },

    /// The gateway answered with an error document (RFC 9457 problem).
    #[error("the gateway answered {status} ({}): {}", problem.title, problem.detail)]
    Server { status: u16, problem: Box<Problem> },

    /// The coordinator refused a command (registration over NATS).
    #[error("the coordinator refused the command: {0}")]
    Command(#[from] CommandError),

    /// The server cannot be reached (connection refused, timed out, DNS, TLS, ...).
    #[error("cannot reach {what}: {message}; the agent keeps trying with back-off")]
    Unreachable { what: String, message: String },

    /// A NATS or JetStream operation failed for a reason other than reachability.
    #[error("NATS error while {what}: {message}")]
    Nats { what: String, message: String },

    /// A message on the agent's queue is not a task or a cancel; it is discarded.
    #[error("invalid message on the agent's queue: {message}")]
    InvalidMessage { message: String },

    /// An answer that does not match the protocol (unexpected status, unparseable body).
    #[error("unexpected answer from {what}: {message}")]
    Protocol { what: String, message: String },

    /// An event too large for the transport (for instance a huge task output).
    #[error("the event is {bytes} bytes, more than the transport's limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },

    /// The agent was shut down before it could do what was asked (register, connect).
    #[error("interrupted: {0}")]
    Interrupted(String),

    /// The options cannot work as given.
    #[error("invalid agent options: {0}")]
    Options(String),
}

impl Error {
    /// Whether trying again later may succeed (the server is away or overloaded), as opposed to
    /// an answer that will not change (bad token, invalid event).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Nats { .. } => true,
            Self::Server { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Self::Command(CommandError::Internal { .. }) => true,
            _ => false,
        }
    }

    /// Whether the agent cannot go on at all: its credentials or identity are wrong.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Unauthorised { .. } | Self::Forbidden { .. } | Self::UnknownAgent { .. }
        )
    }

    pub(crate) fn unreachable(what: impl Into<String>, error: impl std::fmt::Display) -> Self {
        Self::Unreachable {
            what: what.into(),
            message: error.to_string(),
        }
    }

    pub(crate) fn nats(what: impl Into<String>, error: impl std::fmt::Display) -> Self {
        Self::Nats {
            what: what.into(),
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(status: u16) -> Error {
        Error::Server {
            status,
            problem: Box::new(Problem {
                kind: "https://planexec.dev/problems/x".into(),
                title: "x".into(),
                status,
                detail: "x".into(),
                instance: None,
                errors: None,
                current_status: None,
                allowed: None,
            }),
        }
    }

    #[test]
    fn server_errors_and_unreachable_servers_are_worth_retrying_but_refusals_are_not() {
        assert!(problem(503).is_transient());
        assert!(problem(429).is_transient());
        assert!(!problem(422).is_transient());
        assert!(!problem(404).is_transient());
        assert!(Error::unreachable("the gateway", "connection refused").is_transient());
        assert!(
            !Error::Unauthorised {
                detail: String::new()
            }
            .is_transient()
        );
    }

    #[test]
    fn bad_credentials_are_fatal_and_nothing_else_is() {
        assert!(
            Error::Forbidden {
                detail: String::new()
            }
            .is_fatal()
        );
        assert!(!problem(500).is_fatal());
        assert!(!Error::TooLarge { bytes: 2, limit: 1 }.is_fatal());
    }
}
