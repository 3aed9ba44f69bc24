//! What the stream sends, as JSON text messages. Every message has `type` (`snapshot`, `update`
//! or `heartbeat`), `timestamp`, and, for one execution, `execution_id`, `version`, `status` and
//! `progress`. Versions grow by one per committed change: a watcher that sees a jump missed an
//! update and is sent a fresh snapshot.

use chrono::Utc;
use planexec_schemas::Id;
use planexec_schemas::event::ExecutionEvent;
use planexec_schemas::execution::Execution;
use planexec_schemas::update::ExecutionUpdate;
use planexec_store::events::EventFilter;
use planexec_store::executions::read::ListFilter;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::error::ApiError;

/// Events a snapshot carries (newest first).
const SNAPSHOT_EVENTS: u32 = 100;

/// Executions the list's snapshot carries (newest first).
const SNAPSHOT_EXECUTIONS: u32 = 200;

/// One message for every watcher of a topic, serialised once.
#[derive(Debug)]
pub struct Frame {
    pub kind: Kind,
    /// The execution's version (0 for frames of the list).
    pub version: i64,
    /// The newest event it carries (0: none).
    pub last_seq: i64,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Update,
    Heartbeat,
}

impl Frame {
    /// A committed change, with the events recorded since the previous one (oldest first).
    pub fn update(update: &ExecutionUpdate, events: Vec<ExecutionEvent>) -> Self {
        let last_seq = events.last().map_or(0, |e| e.seq);
        let text = json!({
            "type": "update",
            "timestamp": Utc::now(),
            "execution_id": update.execution_id,
            "version": update.version,
            "status": update.status,
            "progress": update.progress,
            "current_task": update.current_task,
            "blocked_reason": update.blocked_reason,
            "tasks": update.tasks,
            "events": events,
            "at": update.at,
        })
        .to_string();
        Self {
            kind: Kind::Update,
            version: update.version,
            last_seq,
            text,
        }
    }

    /// The execution as it is now, sent every few seconds when nothing else is.
    pub fn heartbeat(execution: &Execution) -> Self {
        Self {
            kind: Kind::Heartbeat,
            version: execution.version,
            last_seq: 0,
            text: json!({
                "type": "heartbeat",
                "timestamp": Utc::now(),
                "execution_id": execution.id,
                "version": execution.version,
                "status": execution.status,
                "progress": execution.progress,
            })
            .to_string(),
        }
    }

    /// One execution's new figures, for the list.
    pub fn list_update(update: &ExecutionUpdate) -> Self {
        Self {
            kind: Kind::Update,
            version: 0,
            last_seq: 0,
            text: json!({
                "type": "update",
                "timestamp": Utc::now(),
                "execution_id": update.execution_id,
                "version": update.version,
                "status": update.status,
                "progress": update.progress,
                "current_task": update.current_task,
                "blocked_reason": update.blocked_reason,
            })
            .to_string(),
        }
    }

    pub fn list_heartbeat() -> Self {
        Self {
            kind: Kind::Heartbeat,
            version: 0,
            last_seq: 0,
            text: json!({"type": "heartbeat", "timestamp": Utc::now()}).to_string(),
        }
    }
}

/// What a snapshot showed: the version and the newest event.
#[derive(Debug, Clone, Copy)]
pub struct Shown {
    pub version: i64,
    pub last_seq: i64,
}

/// The whole picture of one execution: its figures, its task tree, its newest events.
/// `None` when there is no such execution.
pub async fn snapshot(pool: &PgPool, id: Id) -> Result<Option<(Shown, String)>, ApiError> {
    // One repeatable-read transaction: the figures, the tree and the events agree.
    let mut tx = pool.begin().await.map_err(store_error)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    let Some(execution) = planexec_store::executions::read::get(&mut *tx, id).await? else {
        return Ok(None);
    };
    let tasks = planexec_store::executions::read::tasks(&mut *tx, id).await?;
    let events = planexec_store::events::list(
        &mut *tx,
        id,
        &EventFilter::default(),
        SNAPSHOT_EVENTS,
        0,
        None,
    )
    .await?;
    tx.commit().await.map_err(store_error)?;
    let shown = Shown {
        version: execution.version,
        last_seq: events.first().map_or(0, |e| e.seq),
    };
    let text = json!({
        "type": "snapshot",
        "timestamp": Utc::now(),
        "execution_id": execution.id,
        "version": execution.version,
        "status": execution.status,
        "progress": execution.progress,
        "current_task": execution.current_task,
        "blocked_reason": execution.blocked_reason,
        "blocked_detail": execution.blocked_detail,
        "execution": execution,
        "tasks": tasks,
        "events": events,
    })
    .to_string();
    Ok(Some((shown, text)))
}

fn store_error(e: sqlx::Error) -> ApiError {
    ApiError::from(planexec_store::Error::from(e))
}

/// The newest executions, for the list.
pub async fn list_snapshot(pool: &PgPool) -> Result<String, ApiError> {
    let (executions, _) = planexec_store::executions::read::list(
        pool,
        &ListFilter::default(),
        SNAPSHOT_EXECUTIONS,
        None,
    )
    .await?;
    let executions: Vec<Value> = executions
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Ok(json!({"type": "snapshot", "timestamp": Utc::now(), "executions": executions}).to_string())
}

/// The newest event's sequence number (0 when there is none).
pub async fn newest_seq(pool: &PgPool, id: Id) -> i64 {
    planexec_store::events::list(pool, id, &EventFilter::default(), 1, 0, None)
        .await
        .ok()
        .and_then(|events| events.first().map(|e| e.seq))
        .unwrap_or(0)
}
