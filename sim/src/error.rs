//! What can stop the simulator, said in terms of its flags where that helps.

use std::path::PathBuf;

/// Everything that can go wrong running Larry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Registering or running the agent failed (unreachable servers are retried, not this).
    #[error(transparent)]
    Agent(#[from] planexec_agent_sdk::Error),

    /// The options cannot work as given.
    #[error("invalid simulator options: {0}")]
    Options(String),

    /// The NATS credentials of a new registration cannot be kept for the connection.
    #[error("cannot write the agent's NATS credentials to {}: {source}", path.display())]
    Credentials {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The event log cannot be opened or written.
    #[error("cannot write the event log {}: {source}", path.display())]
    EventLog {
        path: PathBuf,
        source: std::io::Error,
    },
}
