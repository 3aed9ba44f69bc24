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

    /// The name of the violated constraint, when this is a constraint violation.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            Self::Database(sqlx::Error::Database(e)) => e.constraint(),
            _ => None,
        }
    }
}
