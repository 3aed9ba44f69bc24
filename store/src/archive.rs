//! The archive of the history: events of executions that ended longer ago than a retention,
//! moved out of `execution_events` into `execution_events_archive`, and read back from there.
//!
//! A move is one statement, its own short transaction: it takes at most `limit` live rows of
//! a few ended executions (`FOR UPDATE SKIP LOCKED`, by the history index, stopping at
//! `limit`), deletes them by ctid and inserts them into the archive. Nothing else locks history rows, so neither the coordinator's inserts nor the
//! readers of the live list wait on it. An execution whose live rows are all gone is marked
//! (`events_archived_at`) and not looked at again. Only one archival runs at a time: it holds
//! the advisory lock [`try_lock`] takes for as long as it runs.
//!
//! The archive has the live table's columns, `seq` included, so [`list`] is the live list's
//! query on the other table: same filters, same order, same cursors.

use std::collections::HashSet;

use planexec_schemas::event::ExecutionEvent;
use planexec_schemas::{Id, Timestamp};
use sqlx::{PgConnection, PgExecutor};

use crate::Error;
use crate::events::{EVENT_COLUMNS, EventFilter, HistoryTable, Page, list_in};

/// The statuses no execution leaves: only executions in one of them are archived. Written out
/// in every query (not bound), so that the planner can use the partial index
/// `executions_to_archive`, whose predicate names the same list.
pub const TERMINAL_STATUSES: [&str; 3] = ["COMPLETED", "FAILED", "CANCELLED"];

/// `status IN (...)` of [`TERMINAL_STATUSES`], as the index predicate has it.
const ENDED: &str = "status IN ('COMPLETED', 'FAILED', 'CANCELLED')";

/// The key of the session advisory lock an archival holds while it runs (any value unused by
/// the migrator's lock, which sqlx derives from the database name).
pub const LOCK_KEY: i64 = 0x706c_6e78_6172_6368; // "plnxarch"

/// What is left to archive: ended executions older than the cutoff whose history is live, and
/// how many events they still have there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Remaining {
    pub executions: u64,
    pub events: u64,
}

/// Takes the archival's advisory lock on this session; `false` when another session holds it
/// (another replica's schedule, or `planexec events archive`). It lasts until [`unlock`] or
/// until the connection closes.
pub async fn try_lock(conn: &mut PgConnection) -> Result<bool, Error> {
    Ok(sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(conn)
        .await?)
}

/// Releases the lock [`try_lock`] took on this session.
pub async fn unlock(conn: &mut PgConnection) -> Result<(), Error> {
    sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .fetch_one(conn)
        .await?;
    Ok(())
}

/// Up to `limit` executions to archive: ended before `cutoff`, history still live, those that
/// ended first first.
pub async fn candidates(
    db: impl PgExecutor<'_>,
    cutoff: Timestamp,
    limit: u32,
) -> Result<Vec<Id>, Error> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM executions
          WHERE events_archived_at IS NULL AND {ENDED} AND finished_at < $1
          ORDER BY finished_at, id
          LIMIT $2"
    )))
    .bind(cutoff)
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?)
}

/// What one [`move_batch`] moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Moved {
    pub events: u64,
    /// The greatest execution id it moved events of. Executions are taken in id order, so
    /// every execution of the batch with a smaller id has none left: the next batch need not
    /// look at them again.
    pub last: Option<Id>,
}

/// Moves at most `limit` live events of `executions` to the archive, in one statement (one
/// transaction), taking the executions in id order and each one's events by its history
/// index, so that the statement stops reading as soon as it has `limit` rows. The executions
/// are checked again here: an event of an execution that has not ended, or ended after
/// `cutoff`, is never moved, whatever the caller passed. Fewer than `limit` moved means none of
/// theirs is left.
pub async fn move_batch(
    db: impl PgExecutor<'_>,
    executions: &[Id],
    cutoff: Timestamp,
    limit: u32,
) -> Result<Moved, Error> {
    if executions.is_empty() || limit == 0 {
        return Ok(Moved::default());
    }
    let moved_columns = EVENT_COLUMNS
        .split(", ")
        .map(|c| format!("ev.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    // Rows are found and deleted by ctid (locked, so it cannot change under the statement):
    // no second look-up by primary key.
    let (events, last): (i64, Option<Id>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH batch AS (
             SELECT ev.ctid AS tid
               FROM executions x
              CROSS JOIN LATERAL (
                  SELECT e.ctid FROM execution_events e
                   WHERE e.execution_id = x.id
                   LIMIT $3
                     FOR UPDATE SKIP LOCKED
              ) ev
              WHERE x.id = ANY($1) AND x.{ENDED} AND x.finished_at < $2
              ORDER BY x.id
              LIMIT $3
         ), moved AS (
             DELETE FROM execution_events ev
              WHERE ev.ctid = ANY(ARRAY(SELECT tid FROM batch))
             RETURNING {moved_columns}
         ), archived AS (
             INSERT INTO execution_events_archive ({EVENT_COLUMNS})
             SELECT {EVENT_COLUMNS} FROM moved
             RETURNING execution_id
         )
         SELECT count(*)::int8, (array_agg(execution_id ORDER BY execution_id DESC))[1]
           FROM archived"
    )))
    .bind(executions)
    .bind(cutoff)
    .bind(i64::from(limit))
    .fetch_one(db)
    .await?;
    Ok(Moved {
        events: u64::try_from(events).unwrap_or(0),
        last,
    })
}

/// Marks those of `executions` that have no live event left as archived; returns how many it
/// marked. One held by a coordinator at this moment (a late event being recorded) is skipped,
/// not waited for, and left for the next pass; rows are taken in id order, as the coordinator
/// takes them.
pub async fn mark_archived(db: impl PgExecutor<'_>, executions: &[Id]) -> Result<u64, Error> {
    if executions.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "WITH done AS (
             SELECT x.id FROM executions x
              WHERE x.id = ANY($1) AND x.events_archived_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM execution_events ev WHERE ev.execution_id = x.id)
              ORDER BY x.id
                FOR UPDATE OF x SKIP LOCKED
         )
         UPDATE executions SET events_archived_at = now() FROM done WHERE executions.id = done.id",
    )
    .bind(executions)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// What an archival with this `cutoff` would move now.
pub async fn remaining(db: impl PgExecutor<'_>, cutoff: Timestamp) -> Result<Remaining, Error> {
    let (executions, events): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*)::int8, COALESCE(sum(live.n), 0)::int8
           FROM executions x
           CROSS JOIN LATERAL (SELECT count(*) AS n FROM execution_events ev
                                WHERE ev.execution_id = x.id) live
          WHERE x.events_archived_at IS NULL AND x.{ENDED} AND x.finished_at < $1"
    )))
    .bind(cutoff)
    .fetch_one(db)
    .await?;
    Ok(Remaining {
        executions: u64::try_from(executions).unwrap_or(0),
        events: u64::try_from(events).unwrap_or(0),
    })
}

/// A page of an execution's archived history, newest first: the same filters, order and
/// keyset cursor (`before_seq`) as [`crate::events::list`].
pub async fn list(
    db: impl PgExecutor<'_>,
    execution_id: Id,
    filter: &EventFilter,
    limit: u32,
    offset: u32,
    before_seq: Option<i64>,
) -> Result<Vec<ExecutionEvent>, Error> {
    let page = Page {
        limit,
        offset,
        before_seq,
    };
    list_in(db, HistoryTable::Archive, execution_id, filter, page).await
}

/// The ids among `ids` already in the archive of `executions`, so that an event re-sent to an
/// execution whose history was archived is still recognised as recorded. The coordinator asks
/// only about ended executions (no other has archived events).
pub async fn seen(
    conn: &mut PgConnection,
    executions: &[Id],
    ids: &[Id],
) -> Result<HashSet<Id>, Error> {
    if executions.is_empty() || ids.is_empty() {
        return Ok(HashSet::new());
    }
    let found: Vec<Id> = sqlx::query_scalar(
        "SELECT id FROM execution_events_archive WHERE execution_id = ANY($1) AND id = ANY($2)",
    )
    .bind(executions)
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use planexec_schemas::execution::ExecutionStatus;

    use super::{ENDED, TERMINAL_STATUSES};

    #[test]
    fn the_archived_statuses_are_the_terminal_ones() {
        let terminal: Vec<&str> = ExecutionStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(terminal, TERMINAL_STATUSES);
        let quoted: Vec<String> = TERMINAL_STATUSES.iter().map(|s| format!("'{s}'")).collect();
        assert_eq!(ENDED, format!("status IN ({})", quoted.join(", ")));
    }
}
