//! The archival of the history: events of executions that ended longer ago than the retention
//! move from `execution_events` to `execution_events_archive` (see `planexec_store::archive`),
//! so that the live table, which every report inserts into and every history read looks at,
//! stays the size of what is recent.
//!
//! One archival runs at a time across replicas and `planexec events archive`: it holds a
//! PostgreSQL advisory lock on a connection of its own, and a replica that does not get it
//! skips its turn. It moves a few ended executions' events at a time, `batch` rows per
//! statement, each statement its own transaction, with a pause between them; it takes no lock
//! the coordinator's transactions or the API's reads wait for. Executions that have not ended
//! are never touched: every move checks the status again.

use std::time::Duration;

use chrono::Utc;
use planexec_schemas::Timestamp;
use planexec_store::archive;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{Error, metrics};

/// When and how fast a coordinator archives (`PLANEXE_EVENTS_RETENTION_DAYS` turns it on).
#[derive(Debug, Clone)]
pub struct ArchivalOptions {
    /// Events of executions that ended longer ago than this move to the archive.
    pub retention: Duration,
    /// How often a replica tries; the one that gets the lock archives until nothing is left.
    pub interval: Duration,
    /// Most events moved per statement.
    pub batch: u32,
    /// The pause between two statements, which leaves the database to everything else.
    pub pause: Duration,
}

impl ArchivalOptions {
    /// The documented schedule for a retention.
    pub fn with_retention(retention: Duration) -> Self {
        Self {
            retention,
            interval: Duration::from_secs(10 * 60),
            batch: DEFAULT_BATCH,
            pause: DEFAULT_PAUSE,
        }
    }
}

/// Most events moved per statement unless told otherwise.
pub const DEFAULT_BATCH: u32 = 1000;
/// The pause between statements unless told otherwise.
pub const DEFAULT_PAUSE: Duration = Duration::from_millis(50);
/// Executions taken together: their events move in shared batches, so many small executions
/// cost few statements.
const GROUP: u32 = 64;

/// One archival's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    /// Executions that ended before this are archived.
    pub cutoff: Timestamp,
    pub batch: u32,
    pub pause: Duration,
}

/// What one archival moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Archived {
    pub events: u64,
    /// Executions whose history is now wholly archived.
    pub executions: u64,
}

/// Archives every `interval` until `shutdown`.
pub async fn run(pool: PgPool, options: ArchivalOptions, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(options.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let retention =
            chrono::Duration::from_std(options.retention).unwrap_or(chrono::Duration::MAX / 2);
        let pass = Pass {
            cutoff: Utc::now() - retention,
            batch: options.batch,
            pause: options.pause,
        };
        match archive(&pool, &pass, &shutdown).await {
            Ok(Some(done)) if done != Archived::default() => tracing::info!(
                events = done.events,
                executions = done.executions,
                cutoff = %pass.cutoff,
                "archived the history of ended executions"
            ),
            Ok(Some(_)) => tracing::debug!("nothing to archive"),
            Ok(None) => tracing::debug!("another archival is running; skipping this turn"),
            Err(e) => {
                tracing::warn!(error = %e, "archiving events failed; trying again at the next turn")
            }
        }
    }
}

/// Archives everything `pass` covers, or until `shutdown`; `None` when another archival holds
/// the lock.
pub async fn archive(
    pool: &PgPool,
    pass: &Pass,
    shutdown: &CancellationToken,
) -> Result<Option<Archived>, Error> {
    let mut conn = pool.acquire().await?;
    // The lock belongs to the session: closing the connection afterwards releases it, whatever
    // happened, instead of handing a locked session back to the pool.
    conn.close_on_drop();
    if !archive::try_lock(&mut conn).await? {
        return Ok(None);
    }
    metrics::events_archived(0);
    let done = moves(&mut conn, pass, shutdown).await?;
    archive::unlock(&mut conn).await?;
    Ok(Some(done))
}

async fn moves(
    conn: &mut sqlx::PgConnection,
    pass: &Pass,
    shutdown: &CancellationToken,
) -> Result<Archived, Error> {
    let batch = pass.batch.max(1);
    let mut done = Archived::default();
    while !shutdown.is_cancelled() {
        let mut group = archive::candidates(&mut *conn, pass.cutoff, GROUP).await?;
        if group.is_empty() {
            break;
        }
        group.sort_unstable();
        let mut left = group.as_slice();
        let mut moved_here = 0;
        loop {
            let moved = archive::move_batch(&mut *conn, left, pass.cutoff, batch).await?;
            metrics::events_archived(moved.events);
            done.events += moved.events;
            moved_here += moved.events;
            if moved.events < u64::from(batch) || shutdown.is_cancelled() {
                break;
            }
            // Those before the last one it took from have nothing left.
            if let Some(last) = moved.last {
                left = &left[left.partition_point(|id| *id < last)..];
            }
            pause(pass.pause, shutdown).await;
        }
        let marked = archive::mark_archived(&mut *conn, &group).await?;
        done.executions += marked;
        if marked == 0 && moved_here == 0 {
            // Held by the coordinator right now (a late event): the next turn takes them.
            break;
        }
        pause(pass.pause, shutdown).await;
    }
    Ok(done)
}

/// Waits `duration`, or less when shutting down.
async fn pause(duration: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(duration) => {}
    }
}

/// What an archival with this cutoff would move now (`--dry-run`).
pub async fn remaining(pool: &PgPool, cutoff: Timestamp) -> Result<archive::Remaining, Error> {
    Ok(archive::remaining(pool, cutoff).await?)
}
