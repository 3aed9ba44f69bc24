//! What can go wrong in the store.

/// A store failure. Constraint violations that callers can act on are turned into
/// [`Error::Conflict`] or [`Error::NotFound`]; the rest stays a database error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    /// A row holds a value the code does not know: the database and the code disagree.
    #[error("unexpected value in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

impl Error {
    pub(crate) fn corrupt(table: &'static str, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            table,
            detail: detail.into(),
        }
    }

    /// PostgreSQL cannot be reached (no connection could be had in time, the connection broke,
    /// the server is shutting down): worth a retry later, not the caller's mistake.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(e) => unavailable(e),
            _ => false,
        }
    }

    /// The name of the violated constraint, when this is a constraint violation.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            Self::Database(sqlx::Error::Database(e)) => e.constraint(),
            _ => None,
        }
    }
}

/// Whether `e` says that PostgreSQL is out of reach rather than that the query was wrong.
pub fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exception; 57P01-57P03: shutting down or not accepting yet.
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}
