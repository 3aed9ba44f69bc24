//! The store: repository functions over planexec's PostgreSQL tables.
//!
//! Reads serve everyone (the gateway reads directly); writes of execution state are called only
//! by the coordinator, always inside a transaction that holds the execution's row lock.
//! Queries are checked at run time, so building needs no database.
//!
//! - [`agents`]: registration, tokens and NATS users, deletion, liveness flushes and the
//!   offline sweep; [`installation`]: the id that ties the database to its NATS streams.
//! - [`plans`]: storing decompositions ([`plans::write`]), reading plans ([`plans::read`]),
//!   operator edits and reviews ([`plans::edit`]).
//! - [`executions`]: executions and their tasks, by caller: the API's reads
//!   ([`executions::read`]), the coordinator's transaction ([`executions::engine`]), starting an
//!   execution ([`executions::materialise`]) and the scheduler's view ([`executions::schedule`]).
//!
//! The store takes plans as `planexec_schemas::decomposition::Decomposition`, so it does not
//! link the importer.
//! - [`events`]: the history of executions and the dead letters; [`archive`]: the history of
//!   executions that ended longer ago than the retention, moved out of the live table.
//! - [`metrics`]: the figures of the operator's report and of the coordinator's gauges.
//! - [`webhooks`]: webhook subscriptions and the durable outbox of their deliveries.

pub mod agents;
pub mod archive;
mod error;
pub mod events;
pub mod executions;
pub mod installation;
pub mod metrics;
pub mod plans;
mod rows;
pub mod webhooks;

use std::time::Duration;

pub use error::{Error, unavailable};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// The migrations, embedded at build time from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A pool on `url`, retrying the first connection for up to `wait`; a query waits at most
/// `acquire` for a connection (then fails with an error that [`Error::is_unavailable`]).
pub async fn connect(
    url: &str,
    max_connections: u32,
    wait: Duration,
    acquire: Duration,
) -> Result<PgPool, Error> {
    let options = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire);
    let started = std::time::Instant::now();
    loop {
        match options.clone().connect(url).await {
            Ok(pool) => return Ok(pool),
            Err(e) if started.elapsed() < wait => {
                tracing::debug!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> Result<(), Error> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Reverts migrations down to (and excluding) `target`; `0` reverts them all.
pub async fn migrate_down(pool: &PgPool, target: i64) -> Result<(), Error> {
    MIGRATOR.undo(pool, target).await?;
    Ok(())
}

/// Versions of the applied migrations, oldest first.
pub async fn applied_migrations(pool: &PgPool) -> Result<Vec<i64>, Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?,
    )
}
