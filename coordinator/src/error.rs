//! What can stop the coordinator from doing its work.
//!
//! A rejected input is not an error: it is an outcome (see [`crate::engine::Outcome`]), recorded
//! with the event and answered to whoever sent it.

/// A failure of the coordinator's own resources: its database or NATS.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] planexec_store::Error),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("NATS error while {what}: {message}")]
    Nats { what: String, message: String },
    /// The database and the NATS streams belong to different installations.
    #[error("{0}")]
    Installation(String),
}

impl Error {
    /// A NATS failure, saying what the coordinator was doing.
    pub(crate) fn nats(what: impl Into<String>, error: impl std::fmt::Display) -> Self {
        Self::Nats {
            what: what.into(),
            message: error.to_string(),
        }
    }
}
