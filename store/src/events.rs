//! The history of executions, and the dead letters.
//!
//! An event's id is its primary key: [`seen`] tells the coordinator which ids of a batch are
//! already recorded (applied or rejected) so that a redelivery changes nothing, and [`insert`]
//! ignores conflicts for good measure.

use std::collections::HashSet;

use planexec_schemas::event::{Disposition, EventSource, EventType, ExecutionEvent};
use planexec_schemas::{Id, Timestamp};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

use crate::Error;
use crate::rows::u32_of;

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: Id,
    pub execution_id: Id,
    pub task_id: Option<Id>,
    pub agent_id: Option<Id>,
    pub attempt: Option<u32>,
    pub event_type: EventType,
    pub source: EventSource,
    pub disposition: Disposition,
    pub reason: Option<String>,
    pub timestamp: Timestamp,
    pub output: Value,
}

/// The ids among `ids` that are already recorded.
pub async fn seen(conn: &mut PgConnection, ids: &[Id]) -> Result<HashSet<Id>, Error> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let found: Vec<Id> = sqlx::query_scalar("SELECT id FROM execution_events WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(conn)
        .await?;
    Ok(found.into_iter().collect())
}

/// Records events in order; an id already recorded is skipped. Returns how many were new.
pub async fn insert(conn: &mut PgConnection, events: &[NewEvent]) -> Result<u64, Error> {
    if events.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "INSERT INTO execution_events (id, execution_id, task_id, agent_id, attempt, event_type, source,
                                       disposition, reason, \"timestamp\", output)
         SELECT id, execution_id, task_id, agent_id, attempt, event_type, source, disposition, reason, ts, output
           FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int4[], $6::text[], $7::text[],
                              $8::text[], $9::text[], $10::timestamptz[], $11::jsonb[])
             WITH ORDINALITY AS u(id, execution_id, task_id, agent_id, attempt, event_type, source, disposition,
                                  reason, ts, output, n)
         ORDER BY n
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(events.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.execution_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.task_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.agent_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.attempt.map(|a| i32::try_from(a).unwrap_or(i32::MAX))).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| source_str(e.source)).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.disposition.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.reason.clone()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.timestamp).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.output.clone()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

fn source_str(source: EventSource) -> &'static str {
    match source {
        EventSource::Agent => "agent",
        EventSource::Coordinator => "coordinator",
    }
}

/// Filters of an execution's history.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<EventType>,
    pub task_id: Option<Id>,
    /// `None` lists both applied and rejected events.
    pub disposition: Option<Disposition>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Id,
    seq: i64,
    execution_id: Id,
    task_id: Option<Id>,
    agent_id: Option<Id>,
    attempt: Option<i32>,
    event_type: String,
    source: String,
    disposition: String,
    reason: Option<String>,
    timestamp: Timestamp,
    recorded_at: Timestamp,
    output: Value,
}

impl TryFrom<EventRow> for ExecutionEvent {
    type Error = Error;

    fn try_from(row: EventRow) -> Result<Self, Error> {
        let corrupt = |what: &str, value: &str| {
            Error::corrupt("execution_events", format!("{what} {value:?}"))
        };
        Ok(ExecutionEvent {
            id: row.id,
            seq: row.seq,
            execution_id: row.execution_id,
            task_id: row.task_id,
            agent_id: row.agent_id,
            attempt: row.attempt.map(u32_of),
            event_type: EventType::parse(&row.event_type)
                .ok_or_else(|| corrupt("event_type", &row.event_type))?,
            source: match row.source.as_str() {
                "agent" => EventSource::Agent,
                "coordinator" => EventSource::Coordinator,
                other => return Err(corrupt("source", other)),
            },
            disposition: Disposition::parse(&row.disposition)
                .ok_or_else(|| corrupt("disposition", &row.disposition))?,
            reason: row.reason,
            timestamp: row.timestamp,
            recorded_at: row.recorded_at,
            output: row.output,
        })
    }
}

/// A page of history, newest first: after `before_seq` (keyset) and/or skipping `offset`.
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
    list_in(db, HistoryTable::Live, execution_id, filter, page).await
}

/// Where history rows are kept: the live table, or the archive of ended executions (see
/// [`crate::archive`]). Both have the same columns, and `seq` means the same in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HistoryTable {
    Live,
    Archive,
}

impl HistoryTable {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Live => "execution_events",
            Self::Archive => "execution_events_archive",
        }
    }
}

/// The columns of a history row, in [`EventRow`]'s order.
pub(crate) const EVENT_COLUMNS: &str = "id, seq, execution_id, task_id, agent_id, attempt, event_type, source, \
     disposition, reason, \"timestamp\", recorded_at, output";

/// Which slice of a filtered history a list returns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub limit: u32,
    pub offset: u32,
    pub before_seq: Option<i64>,
}

/// A page of `table`'s history of `execution_id`, newest first: the one query of the live list
/// and of the archived one, so that both filter and page alike.
pub(crate) async fn list_in(
    db: impl PgExecutor<'_>,
    table: HistoryTable,
    execution_id: Id,
    filter: &EventFilter,
    page: Page,
) -> Result<Vec<ExecutionEvent>, Error> {
    let rows: Vec<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS}
           FROM {table}
          WHERE execution_id = $1
            AND ($2::text IS NULL OR event_type = $2)
            AND ($3::uuid IS NULL OR task_id = $3)
            AND ($4::text IS NULL OR disposition = $4)
            AND ($5::int8 IS NULL OR seq < $5)
          ORDER BY seq DESC
          LIMIT $6 OFFSET $7",
        table = table.name(),
    )))
    .bind(execution_id)
    .bind(filter.event_type.map(EventType::as_str))
    .bind(filter.task_id)
    .bind(filter.disposition.map(Disposition::as_str))
    .bind(page.before_seq)
    .bind(i64::from(page.limit))
    .bind(i64::from(page.offset))
    .fetch_all(db)
    .await?;
    rows.into_iter().map(ExecutionEvent::try_from).collect()
}

/// Records a message that could not be applied at all; a redelivery of the same stream
/// message is recorded once.
pub async fn dead_letter(
    db: impl PgExecutor<'_>,
    subject: &str,
    stream_sequence: Option<u64>,
    raw: &[u8],
    error: &str,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO dead_letters (subject, stream_sequence, raw, error) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(subject)
    .bind(stream_sequence.and_then(|s| i64::try_from(s).ok()))
    .bind(raw)
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// A dead letter, for operators and tests.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub subject: String,
    pub stream_sequence: Option<i64>,
    pub raw: Vec<u8>,
    pub error: String,
    pub received_at: Timestamp,
}

/// The newest dead letters.
pub async fn dead_letters(db: impl PgExecutor<'_>, limit: u32) -> Result<Vec<DeadLetter>, Error> {
    Ok(sqlx::query_as(
        "SELECT id, subject, stream_sequence, raw, error, received_at FROM dead_letters ORDER BY id DESC LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?)
}

/// The events recorded after `after_seq`, oldest first (what a live view has not shown yet).
pub async fn since(
    db: impl PgExecutor<'_>,
    execution_id: Id,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<ExecutionEvent>, Error> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, seq, execution_id, task_id, agent_id, attempt, event_type, source, disposition, reason,
                \"timestamp\", recorded_at, output
           FROM execution_events
          WHERE execution_id = $1 AND seq > $2
          ORDER BY seq
          LIMIT $3",
    )
    .bind(execution_id)
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?;
    rows.into_iter().map(ExecutionEvent::try_from).collect()
}
