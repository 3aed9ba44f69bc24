//! Private PostgreSQL and nats-server processes, started from the binaries on PATH.
//!
//! `planexec up` uses them when no server is reachable (persistent, in its data folder); the
//! test harness uses them when the environment names none (throw-away, in a temp folder).
//! Each server runs as a child process on a free port and is stopped when its handle drops.
//!
//! PostgreSQL refuses to run as root, so as root the processes run as the `postgres` user
//! (the data folder is handed to that user first).

mod nats;
mod postgres;
mod process;

pub use nats::{NatsOptions, PrivateNats};
pub use postgres::{PostgresOptions, PrivatePostgres};

use std::path::PathBuf;

/// Why a private server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{binary}` was not found on {looked}: {hint}")]
    NotFound {
        binary: &'static str,
        /// Where it was looked for, for the message.
        looked: &'static str,
        hint: &'static str,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed; its log ({log}) ends with:\n{tail}")]
    Failed {
        what: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{what} did not become ready within {seconds} s; its log ({log}) ends with:\n{tail}")]
    Timeout {
        what: String,
        seconds: u64,
        log: PathBuf,
        tail: String,
    },
    #[error(
        "running as root, but there is no `{user}` user to run PostgreSQL as: create it or run as a normal user"
    )]
    NoUser { user: &'static str },
}

impl Error {
    fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// A free TCP port on 127.0.0.1 (the OS picks; another process could take it meanwhile, which
/// the caller notices when the server fails to bind).
pub fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::io("finding a free port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("finding a free port", e))
}

/// Whether something accepts TCP connections on `127.0.0.1:port`.
pub fn port_is_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        std::time::Duration::from_millis(200),
    )
    .is_ok()
}
