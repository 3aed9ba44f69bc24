//! What the coordinator's transaction does to executions: [`lock`] the executions it is about to
//! change (row locks in id order: per-execution serialisation across replicas, no deadlock),
//! [`load_nodes`] their tasks, and save what changed ([`save_executions`], [`save_nodes`]),
//! batched with UNNEST so a batch of events costs a handful of statements. After the commit,
//! the outbox reads [`assignment_details`] and confirms publications ([`mark_published`]).
//!
//! The statements that find rows by a list of ids (`= ANY`, `UNNEST` joins) on the hot tables
//! are planned at every call (`persistent(false)`), not prepared once per connection: a
//! connection prepares its statements in the first seconds of a new installation, and the plan
//! PostgreSQL caches then was made for empty tables (sequential scans). It stays until the table
//! is analysed, and on a busy new installation each batch then scanned every task there is.
//! Planning costs about 0.1 ms per statement; a batch runs four.

use std::collections::HashMap;

use planexec_schemas::execution::{BlockedReason, CurrentTask, ExecutionStatus, TaskStatus};
use planexec_schemas::task::TaskContext;
use planexec_schemas::{Id, Timestamp};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

use super::{EXECUTION_COLUMNS, ExecutionRow, NodeTable};
use crate::Error;
use crate::rows::{i32_of, task_status};

/// Locks `ids` (in id order, so two lockers never deadlock) and returns the rows that exist.
pub async fn lock(conn: &mut PgConnection, ids: &[Id]) -> Result<Vec<ExecutionRow>, Error> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ANY($1) ORDER BY id FOR UPDATE"
    )))
    .bind(&sorted)
    .persistent(false)
    .fetch_all(conn)
    .await?)
}

/// Locks those of `ids` that no other transaction holds (the scheduler skips busy ones).
pub async fn lock_skip_locked(
    conn: &mut PgConnection,
    ids: &[Id],
) -> Result<Vec<ExecutionRow>, Error> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ANY($1) ORDER BY id FOR UPDATE SKIP LOCKED"
    )))
    .bind(&sorted)
    .persistent(false)
    .fetch_all(conn)
    .await?)
}

/// What the coordinator writes back to an execution after a transition.
#[derive(Debug, Clone)]
pub struct ExecutionSave {
    pub id: Id,
    pub agent_id: Id,
    pub status: ExecutionStatus,
    pub progress: f64,
    pub current: Option<CurrentTask>,
    pub blocked_reason: Option<BlockedReason>,
    pub blocked_detail: Option<String>,
    pub leaves_total: u32,
    pub leaves_done: u32,
    pub next_wakeup_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// Saves executions; returns `(id, new version, updated_at)`.
pub async fn save_executions(
    conn: &mut PgConnection,
    saves: &[ExecutionSave],
) -> Result<Vec<(Id, i64, Timestamp)>, Error> {
    if saves.is_empty() {
        return Ok(Vec::new());
    }
    let col =
        |f: &dyn Fn(&ExecutionSave) -> Option<String>| saves.iter().map(f).collect::<Vec<_>>();
    Ok(sqlx::query_as(
        "UPDATE executions e SET
            agent_id = u.agent_id, status = u.status, progress = u.progress,
            current_task_id = u.current_id, current_task_wbs = u.current_wbs, current_task_title = u.current_title,
            blocked_reason = u.blocked_reason, blocked_detail = u.blocked_detail,
            leaves_total = u.leaves_total, leaves_done = u.leaves_done, next_wakeup_at = u.next_wakeup_at,
            started_at = u.started_at, finished_at = u.finished_at,
            version = e.version + 1, updated_at = now()
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::float8[], $5::uuid[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::int4[], $11::int4[], $12::timestamptz[], $13::timestamptz[],
                     $14::timestamptz[])
              AS u(id, agent_id, status, progress, current_id, current_wbs, current_title, blocked_reason,
                   blocked_detail, leaves_total, leaves_done, next_wakeup_at, started_at, finished_at)
         WHERE e.id = u.id
         RETURNING e.id, e.version, e.updated_at",
    )
    .bind(saves.iter().map(|s| s.id).collect::<Vec<_>>())
    .bind(saves.iter().map(|s| s.agent_id).collect::<Vec<_>>())
    .bind(saves.iter().map(|s| s.status.as_str()).collect::<Vec<_>>())
    .bind(saves.iter().map(|s| s.progress).collect::<Vec<_>>())
    .bind(saves.iter().map(|s| s.current.as_ref().map(|c| c.id)).collect::<Vec<_>>())
    .bind(col(&|s| s.current.as_ref().map(|c| c.wbs.clone())))
    .bind(col(&|s| s.current.as_ref().map(|c| c.title.clone())))
    .bind(col(&|s| s.blocked_reason.map(|b| b.as_str().to_owned())))
    .bind(col(&|s| s.blocked_detail.clone()))
    .bind(saves.iter().map(|s| i32_of(s.leaves_total)).collect::<Vec<_>>())
    .bind(saves.iter().map(|s| i32_of(s.leaves_done)).collect::<Vec<_>>())
    .bind(saves.iter().map(|s| s.next_wakeup_at).collect::<Vec<_>>())
    .bind(saves.iter().map(|s| s.started_at).collect::<Vec<_>>())
    .bind(saves.iter().map(|s| s.finished_at).collect::<Vec<_>>())
    .persistent(false)
    .fetch_all(conn)
    .await?)
}

/// A task or subtask of an execution as the coordinator loads it (no results, no texts).
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct NodeRow {
    pub execution_id: Id,
    pub is_subtask: bool,
    pub id: Id,
    /// For a subtask: its task.
    pub task_id: Option<Id>,
    pub wbs: String,
    pub title: String,
    pub is_leaf: bool,
    pub capability: Option<String>,
    pub depends_on: Vec<Id>,
    pub status: String,
    pub attempt: i32,
    pub failures: i32,
    pub max_attempts: i32,
    pub timeout_seconds: i32,
    pub assigned_agent_id: Option<Id>,
    pub progress: f64,
    pub lease_deadline: Option<Timestamp>,
    pub next_attempt_at: Option<Timestamp>,
    pub dispatched_at: Option<Timestamp>,
    pub published_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

impl NodeRow {
    pub fn table(&self) -> NodeTable {
        if self.is_subtask {
            NodeTable::Subtasks
        } else {
            NodeTable::Tasks
        }
    }

    pub fn status(&self) -> Result<TaskStatus, Error> {
        task_status(
            if self.is_subtask {
                "execution_subtasks"
            } else {
                "execution_tasks"
            },
            &self.status,
        )
    }
}

/// The tasks of `executions`, each execution's in execution order (tasks by position, each
/// followed by its subtasks).
pub async fn load_nodes(
    conn: &mut PgConnection,
    executions: &[Id],
) -> Result<HashMap<Id, Vec<NodeRow>>, Error> {
    let rows: Vec<NodeRow> = sqlx::query_as(
        "SELECT execution_id, is_subtask, id, task_id, wbs, title, is_leaf, capability, depends_on, status,
                attempt, failures, max_attempts, timeout_seconds, assigned_agent_id, progress, lease_deadline,
                next_attempt_at, dispatched_at, published_at, started_at, finished_at
           FROM (SELECT execution_id, false AS is_subtask, id, NULL::uuid AS task_id, wbs, title, is_leaf,
                        capability, depends_on, status, attempt, failures, max_attempts, timeout_seconds,
                        assigned_agent_id, progress, lease_deadline, next_attempt_at, dispatched_at, published_at,
                        started_at, finished_at, position AS task_position, 0 AS sub_position
                   FROM execution_tasks WHERE execution_id = ANY($1)
                 UNION ALL
                 SELECT s.execution_id, true, s.id, s.task_id, s.wbs, s.title, true, s.capability,
                        '{}'::uuid[], s.status, s.attempt, s.failures, s.max_attempts, s.timeout_seconds,
                        s.assigned_agent_id, s.progress, s.lease_deadline, s.next_attempt_at, s.dispatched_at,
                        s.published_at, s.started_at, s.finished_at, t.position, s.position + 1
                   FROM execution_subtasks s JOIN execution_tasks t ON t.id = s.task_id
                  WHERE s.execution_id = ANY($1)) nodes
          ORDER BY execution_id, task_position, sub_position",
    )
    .bind(executions)
    .persistent(false)
    .fetch_all(conn)
    .await?;
    let mut by_execution: HashMap<Id, Vec<NodeRow>> = HashMap::new();
    for row in rows {
        by_execution.entry(row.execution_id).or_default().push(row);
    }
    Ok(by_execution)
}

/// What the coordinator writes back to a task or subtask.
#[derive(Debug, Clone)]
pub struct NodeSave {
    pub table: NodeTable,
    pub id: Id,
    pub status: TaskStatus,
    pub attempt: u32,
    pub failures: u32,
    pub assigned_agent_id: Option<Id>,
    pub progress: f64,
    pub lease_deadline: Option<Timestamp>,
    pub next_attempt_at: Option<Timestamp>,
    pub dispatched_at: Option<Timestamp>,
    /// A new attempt was dispatched: its publication is not confirmed yet.
    pub redispatched: bool,
    /// JetStream confirmed the current attempt's dispatch: set `published_at` if it is not.
    pub published: bool,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// A result or error to record on a node.
#[derive(Debug, Clone)]
pub enum NodeOutput {
    Result {
        table: NodeTable,
        id: Id,
        value: Value,
    },
    Error {
        table: NodeTable,
        id: Id,
        message: String,
    },
}

/// Saves changed nodes and their outputs, one statement per table: a result or an error rides
/// in the same UPDATE as the status change that produced it.
pub async fn save_nodes(
    conn: &mut PgConnection,
    saves: &[NodeSave],
    outputs: &[NodeOutput],
) -> Result<(), Error> {
    let mut results: HashMap<Id, &Value> = HashMap::new();
    let mut errors: HashMap<Id, &str> = HashMap::new();
    for output in outputs {
        match output {
            NodeOutput::Result { id, value, .. } => {
                results.insert(*id, value);
            }
            NodeOutput::Error { id, message, .. } => {
                errors.insert(*id, message);
            }
        }
    }
    for (table, name) in [
        (NodeTable::Tasks, "execution_tasks"),
        (NodeTable::Subtasks, "execution_subtasks"),
    ] {
        let rows: Vec<&NodeSave> = saves.iter().filter(|s| s.table == table).collect();
        if rows.is_empty() {
            continue;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {name} t SET
                status = u.status, attempt = u.attempt, failures = u.failures,
                assigned_agent_id = u.agent, progress = u.progress, lease_deadline = u.lease_deadline,
                next_attempt_at = u.next_attempt_at, dispatched_at = u.dispatched_at,
                published_at = CASE WHEN u.redispatched THEN NULL
                                    WHEN u.published THEN COALESCE(t.published_at, now())
                                    ELSE t.published_at END,
                started_at = u.started_at, finished_at = u.finished_at,
                result = COALESCE(u.result, t.result), error = COALESCE(u.error, t.error)
             FROM UNNEST($1::uuid[], $2::text[], $3::int4[], $4::int4[], $5::uuid[], $6::float8[],
                         $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::bool[],
                         $11::timestamptz[], $12::timestamptz[], $13::jsonb[], $14::text[], $15::bool[])
                  AS u(id, status, attempt, failures, agent, progress, lease_deadline, next_attempt_at,
                       dispatched_at, redispatched, started_at, finished_at, result, error, published)
             WHERE t.id = u.id"
        )))
        .bind(rows.iter().map(|s| s.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.status.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| i32_of(s.attempt)).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| i32_of(s.failures)).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.assigned_agent_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.progress).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.lease_deadline).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.next_attempt_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.dispatched_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.redispatched).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.started_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| s.finished_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|s| results.get(&s.id).map(|v| (*v).clone())).collect::<Vec<Option<Value>>>())
        .bind(rows.iter().map(|s| errors.get(&s.id).copied()).collect::<Vec<Option<&str>>>())
        .bind(rows.iter().map(|s| s.published).collect::<Vec<_>>())
        .persistent(false)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A dispatch JetStream stored: its task (or subtask), the execution it belongs to, and the
/// attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub table: NodeTable,
    pub execution_id: Id,
    pub task_id: Id,
    pub attempt: u32,
}

/// Confirms that JetStream stored these dispatches; a later attempt is not confirmed by an
/// earlier one's acknowledgement. Like every writer of tasks it first locks their executions
/// (in id order), but it skips those another transaction holds: writing under a busy
/// execution's transaction made both wait for each other's rows. Returns the confirmations it
/// skipped, to be written later (or by that transaction, which may carry them).
pub async fn mark_published(
    db: &sqlx::PgPool,
    dispatched: &[Published],
) -> Result<Vec<Published>, Error> {
    let executions: Vec<Id> = dispatched.iter().map(|d| d.execution_id).collect();
    let mut tx = db.begin().await?;
    let locked: std::collections::HashSet<Id> = lock_skip_locked(&mut tx, &executions)
        .await?
        .into_iter()
        .map(|row| row.id)
        .collect();
    let (now, busy): (Vec<Published>, Vec<Published>) = dispatched
        .iter()
        .partition(|d| locked.contains(&d.execution_id));
    for (table, name) in [
        (NodeTable::Tasks, "execution_tasks"),
        (NodeTable::Subtasks, "execution_subtasks"),
    ] {
        let rows: Vec<&Published> = now.iter().filter(|d| d.table == table).collect();
        if rows.is_empty() {
            continue;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {name} t SET published_at = now()
               FROM UNNEST($1::uuid[], $2::int4[]) AS u(id, attempt)
              WHERE t.id = u.id AND t.attempt = u.attempt AND t.published_at IS NULL"
        )))
        .bind(rows.iter().map(|d| d.task_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|d| i32_of(d.attempt)).collect::<Vec<_>>())
        .persistent(false)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(busy)
}

/// Everything an agent needs besides what the coordinator holds in memory, for building
/// assignments after a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentDetail {
    pub plan_id: Id,
    pub description: String,
    pub params: Value,
    pub resources_needed: Vec<String>,
    pub parent: Option<TaskContext>,
    pub phase: Option<TaskContext>,
}

/// Details of the given leaves, keyed by their id.
pub async fn assignment_details(
    db: impl PgExecutor<'_>,
    leaves: &[Id],
) -> Result<HashMap<Id, AssignmentDetail>, Error> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(Id, Id, String, Value, Vec<String>, Option<String>, Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as(
            "SELECT et.id, pt.plan_id, pt.description, pt.params, pt.resources_needed, NULL::text, NULL::text,
                    ph.wbs, ph.title
               FROM execution_tasks et
               JOIN plan_tasks pt ON pt.id = et.plan_task_id
               LEFT JOIN plan_tasks ph ON ph.id = pt.parent_id
              WHERE et.id = ANY($1)
             UNION ALL
             SELECT es.id, ps.plan_id, ps.description, ps.params, ps.resources_needed, pt.wbs, pt.title,
                    ph.wbs, ph.title
               FROM execution_subtasks es
               JOIN plan_subtasks ps ON ps.id = es.plan_subtask_id
               JOIN plan_tasks pt ON pt.id = ps.task_id
               LEFT JOIN plan_tasks ph ON ph.id = pt.parent_id
              WHERE es.id = ANY($1)",
        )
        .bind(leaves)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, plan_id, description, params, resources_needed, pw, pt, hw, ht)| {
                let context = |wbs: Option<String>, title: Option<String>| {
                    Some(TaskContext {
                        wbs: wbs?,
                        title: title?,
                    })
                };
                (
                    id,
                    AssignmentDetail {
                        plan_id,
                        description,
                        params,
                        resources_needed,
                        parent: context(pw, pt),
                        phase: context(hw, ht),
                    },
                )
            },
        )
        .collect())
}
