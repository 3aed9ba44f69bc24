//! Executions and their tasks.
//!
//! The coordinator works in three steps inside one transaction: [`lock`] the executions it is
//! about to change (row locks in id order: per-execution serialisation across replicas, no
//! deadlock), [`load_nodes`] their tasks, and [`save`] what changed, batched with UNNEST so a
//! batch of events costs a handful of statements.

use std::collections::HashMap;

use planexec_schemas::execution::{
    BlockedReason, CurrentTask, Execution, ExecutionStatus, ExecutionSubtask, ExecutionTask,
    RoutingPolicy, TaskStatus,
};
use planexec_schemas::task::TaskContext;
use planexec_schemas::{Id, Timestamp};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

use crate::Error;
use crate::rows::{blocked_reason, execution_status, i32_of, routing, task_status, u32_of};

// ---------------------------------------------------------------------------------------------
// Executions
// ---------------------------------------------------------------------------------------------

/// An execution row, as the coordinator loads it under lock.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExecutionRow {
    pub id: Id,
    pub plan_id: Id,
    pub agent_id: Id,
    pub status: String,
    pub progress: f64,
    pub current_task_id: Option<Id>,
    pub current_task_wbs: Option<String>,
    pub current_task_title: Option<String>,
    pub blocked_reason: Option<String>,
    pub blocked_detail: Option<String>,
    pub max_parallel: i32,
    pub routing: String,
    pub leaves_total: i32,
    pub leaves_done: i32,
    pub version: i64,
    pub next_wakeup_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

const EXECUTION_COLUMNS: &str = "id, plan_id, agent_id, status, progress, current_task_id, current_task_wbs, \
     current_task_title, blocked_reason, blocked_detail, max_parallel, routing, leaves_total, leaves_done, \
     version, next_wakeup_at, created_at, updated_at, started_at, finished_at";

impl ExecutionRow {
    pub fn status(&self) -> Result<ExecutionStatus, Error> {
        execution_status(&self.status)
    }

    pub fn blocked_reason(&self) -> Result<Option<BlockedReason>, Error> {
        blocked_reason(self.blocked_reason.as_deref())
    }

    pub fn routing(&self) -> Result<RoutingPolicy, Error> {
        routing(&self.routing)
    }

    /// The API view.
    pub fn to_execution(&self) -> Result<Execution, Error> {
        let current_task = match (
            self.current_task_id,
            &self.current_task_wbs,
            &self.current_task_title,
        ) {
            (Some(id), Some(wbs), Some(title)) => Some(CurrentTask {
                id,
                wbs: wbs.clone(),
                title: title.clone(),
            }),
            _ => None,
        };
        Ok(Execution {
            id: self.id,
            plan_id: self.plan_id,
            agent_id: self.agent_id,
            status: self.status()?,
            progress: self.progress,
            current_task,
            blocked_reason: self.blocked_reason()?,
            blocked_detail: self.blocked_detail.clone(),
            max_parallel: u32_of(self.max_parallel),
            routing: self.routing()?,
            leaves_total: u32_of(self.leaves_total),
            leaves_done: u32_of(self.leaves_done),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }
}

/// A new execution (CREATED); the scheduler picks it up at once to materialise its tasks.
#[derive(Debug, Clone)]
pub struct NewExecution {
    pub id: Id,
    pub plan_id: Id,
    pub agent_id: Id,
    pub max_parallel: u32,
    pub routing: RoutingPolicy,
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewExecution) -> Result<ExecutionRow, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO executions (id, plan_id, agent_id, status, max_parallel, routing, next_wakeup_at)
         VALUES ($1, $2, $3, 'CREATED', $4, $5, now())
         RETURNING {EXECUTION_COLUMNS}"
    )))
    .bind(new.id)
    .bind(new.plan_id)
    .bind(new.agent_id)
    .bind(i32_of(new.max_parallel))
    .bind(new.routing.as_str())
    .fetch_one(db)
    .await?)
}

pub async fn get(db: impl PgExecutor<'_>, id: Id) -> Result<Option<Execution>, Error> {
    let row: Option<ExecutionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?;
    row.map(|r| r.to_execution()).transpose()
}

/// Filters of the executions list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub plan_id: Option<Id>,
    pub agent_id: Option<Id>,
    pub status: Option<ExecutionStatus>,
}

/// Position in the newest-first list: the last row of the previous page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub created_at: Timestamp,
    pub id: Id,
}

/// A page of executions, newest first, after `cursor`; the cursor of the next page when there
/// may be one.
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &ListFilter,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<Execution>, Option<Cursor>), Error> {
    let rows: Vec<ExecutionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions
          WHERE ($1::uuid IS NULL OR plan_id = $1)
            AND ($2::uuid IS NULL OR agent_id = $2)
            AND ($3::text IS NULL OR status = $3)
            AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
          ORDER BY created_at DESC, id DESC
          LIMIT $6"
    )))
    .bind(filter.plan_id)
    .bind(filter.agent_id)
    .bind(filter.status.map(ExecutionStatus::as_str))
    .bind(cursor.map(|c| c.created_at))
    .bind(cursor.map(|c| c.id))
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?;
    let next = (rows.len() == limit as usize)
        .then(|| {
            rows.last().map(|r| Cursor {
                created_at: r.created_at,
                id: r.id,
            })
        })
        .flatten();
    let executions = rows
        .iter()
        .map(ExecutionRow::to_execution)
        .collect::<Result<_, _>>()?;
    Ok((executions, next))
}

/// Locks `ids` (in id order, so two lockers never deadlock) and returns the rows that exist.
pub async fn lock(conn: &mut PgConnection, ids: &[Id]) -> Result<Vec<ExecutionRow>, Error> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ANY($1) ORDER BY id FOR UPDATE"
    )))
    .bind(&sorted)
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
    .fetch_all(conn)
    .await?)
}

/// Executions whose stored wake-up time has come, earliest first.
pub async fn due(db: impl PgExecutor<'_>, now: Timestamp, limit: u32) -> Result<Vec<Id>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM executions WHERE next_wakeup_at <= $1 ORDER BY next_wakeup_at LIMIT $2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?)
}

/// Unfinished executions that `agents` coming or going may affect: theirs, those holding
/// tasks on them, and every blocked one.
pub async fn affected_by_agents(db: impl PgExecutor<'_>, agents: &[Id]) -> Result<Vec<Id>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM executions
          WHERE status IN ('QUEUED', 'RUNNING', 'BLOCKED')
            AND (status = 'BLOCKED' OR agent_id = ANY($1)
                 OR EXISTS (SELECT 1 FROM execution_tasks t WHERE t.execution_id = executions.id
                             AND t.assigned_agent_id = ANY($1) AND t.status IN ('dispatched', 'running'))
                 OR EXISTS (SELECT 1 FROM execution_subtasks s WHERE s.execution_id = executions.id
                             AND s.assigned_agent_id = ANY($1) AND s.status IN ('dispatched', 'running')))",
    )
    .bind(agents)
    .fetch_all(db)
    .await?)
}

/// Executions of `plan_id` waiting for its review, due at once: an approval is fired by the
/// scheduler even if the approver dies before waking them itself.
pub async fn wake_waiting_for_review(
    conn: &mut PgConnection,
    plan_id: Id,
) -> Result<Vec<Id>, Error> {
    Ok(sqlx::query_scalar(
        "UPDATE executions SET next_wakeup_at = now()
          WHERE plan_id = $1 AND status = 'NEEDS_REVIEW' RETURNING id",
    )
    .bind(plan_id)
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
    .fetch_all(conn)
    .await?)
}

// ---------------------------------------------------------------------------------------------
// Tasks and subtasks
// ---------------------------------------------------------------------------------------------

/// Which table a node lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeTable {
    Tasks,
    Subtasks,
}

/// A task or subtask of an execution as the coordinator loads it (no results, no texts).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
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
                published_at = CASE WHEN u.redispatched THEN NULL ELSE t.published_at END,
                started_at = u.started_at, finished_at = u.finished_at,
                result = COALESCE(u.result, t.result), error = COALESCE(u.error, t.error)
             FROM UNNEST($1::uuid[], $2::text[], $3::int4[], $4::int4[], $5::uuid[], $6::float8[],
                         $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::bool[],
                         $11::timestamptz[], $12::timestamptz[], $13::jsonb[], $14::text[])
                  AS u(id, status, attempt, failures, agent, progress, lease_deadline, next_attempt_at,
                       dispatched_at, redispatched, started_at, finished_at, result, error)
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
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Confirms that JetStream stored the dispatch of `(table, id, attempt)`; a later attempt is
/// not confirmed by an earlier one's acknowledgement.
pub async fn mark_published(
    db: &sqlx::PgPool,
    dispatched: &[(NodeTable, Id, u32)],
) -> Result<(), Error> {
    for (table, name) in [
        (NodeTable::Tasks, "execution_tasks"),
        (NodeTable::Subtasks, "execution_subtasks"),
    ] {
        let rows: Vec<&(NodeTable, Id, u32)> = dispatched.iter().filter(|d| d.0 == table).collect();
        if rows.is_empty() {
            continue;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {name} t SET published_at = now()
               FROM UNNEST($1::uuid[], $2::int4[]) AS u(id, attempt)
              WHERE t.id = u.id AND t.attempt = u.attempt AND t.published_at IS NULL"
        )))
        .bind(rows.iter().map(|d| d.1).collect::<Vec<_>>())
        .bind(rows.iter().map(|d| i32_of(d.2)).collect::<Vec<_>>())
        .execute(db)
        .await?;
    }
    Ok(())
}

/// The defaults a materialised task gets when its plan does not say.
#[derive(Debug, Clone, Copy)]
pub struct TaskDefaults {
    pub timeout_seconds: u32,
    pub max_attempts: u32,
}

/// A task of the plan as materialisation needs it.
#[derive(sqlx::FromRow)]
struct PlanTaskSource {
    id: Id,
    wbs: String,
    position: i32,
    title: String,
    capability: Option<String>,
    timeout_seconds: Option<i32>,
    max_attempts: Option<i32>,
    is_leaf: bool,
}

/// A subtask of the plan as materialisation needs it.
#[derive(sqlx::FromRow)]
struct PlanSubtaskSource {
    id: Id,
    task_id: Id,
    wbs: String,
    position: i32,
    title: String,
    capability: String,
    timeout_seconds: Option<i32>,
    max_attempts: Option<i32>,
}

/// Copies the plan's tasks and subtasks into the execution; returns `(tasks, leaves)`, or `None`
/// when the execution already has its tasks (materialising twice changes nothing).
pub async fn materialise(
    conn: &mut PgConnection,
    execution_id: Id,
    plan_id: Id,
    defaults: TaskDefaults,
) -> Result<Option<(u32, u32)>, Error> {
    let existing: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM execution_tasks WHERE execution_id = $1)")
            .bind(execution_id)
            .fetch_one(&mut *conn)
            .await?;
    if existing {
        return Ok(None);
    }
    let tasks: Vec<PlanTaskSource> = sqlx::query_as(
        "SELECT t.id, t.wbs, t.position, t.title, t.capability, t.timeout_seconds, t.max_attempts,
                NOT EXISTS (SELECT 1 FROM plan_subtasks s WHERE s.task_id = t.id) AS is_leaf
           FROM plan_tasks t WHERE t.plan_id = $1 AND t.kind = 'task' ORDER BY t.position",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    let subtasks: Vec<PlanSubtaskSource> = sqlx::query_as(
        "SELECT id, task_id, wbs, position, title, capability, timeout_seconds, max_attempts
           FROM plan_subtasks WHERE plan_id = $1",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    let deps: Vec<(Id, Id)> = sqlx::query_as(
        "SELECT task_id, depends_on_id FROM plan_task_dependencies WHERE plan_id = $1",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;

    let timeout = |t: Option<i32>| t.unwrap_or(i32_of(defaults.timeout_seconds));
    let attempts = |a: Option<i32>| a.unwrap_or(i32_of(defaults.max_attempts));
    let new_ids: HashMap<Id, Id> = tasks
        .iter()
        .map(|t| (t.id, planexec_schemas::new_id()))
        .collect();
    let leaf_tasks = tasks.iter().filter(|t| t.is_leaf).count();
    sqlx::query(
        "INSERT INTO execution_tasks (id, execution_id, plan_task_id, wbs, position, title, is_leaf, capability,
                                      status, max_attempts, timeout_seconds)
         SELECT u.id, $1, u.plan_task_id, u.wbs, u.position, u.title, u.is_leaf, u.capability, 'pending',
                u.max_attempts, u.timeout_seconds
           FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::int4[], $6::text[], $7::bool[], $8::text[],
                       $9::int4[], $10::int4[])
                AS u(id, plan_task_id, wbs, position, title, is_leaf, capability, max_attempts, timeout_seconds)",
    )
    .bind(execution_id)
    .bind(tasks.iter().map(|t| new_ids[&t.id]).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| t.id).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| t.wbs.clone()).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| t.position).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| t.title.clone()).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| t.is_leaf).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| if t.is_leaf { t.capability.clone() } else { None }).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| attempts(t.max_attempts)).collect::<Vec<_>>())
    .bind(tasks.iter().map(|t| timeout(t.timeout_seconds)).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    if !subtasks.is_empty() {
        sqlx::query(
            "INSERT INTO execution_subtasks (id, execution_id, task_id, plan_subtask_id, wbs, position, title,
                                             capability, status, max_attempts, timeout_seconds)
             SELECT u.id, $1, u.task_id, u.plan_subtask_id, u.wbs, u.position, u.title, u.capability, 'pending',
                    u.max_attempts, u.timeout_seconds
               FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int4[], $7::text[], $8::text[],
                           $9::int4[], $10::int4[])
                    AS u(id, task_id, plan_subtask_id, wbs, position, title, capability, max_attempts, timeout_seconds)",
        )
        .bind(execution_id)
        .bind(subtasks.iter().map(|_| planexec_schemas::new_id()).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|s| new_ids.get(&s.task_id).copied().unwrap_or(s.task_id)).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|s| s.id).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|s| s.wbs.clone()).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|s| s.position).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|s| s.title.clone()).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|s| s.capability.clone()).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|s| attempts(s.max_attempts)).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|s| timeout(s.timeout_seconds)).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    let mapped: Vec<(Id, Id)> = deps
        .iter()
        .filter_map(|(t, d)| Some((*new_ids.get(t)?, *new_ids.get(d)?)))
        .collect();
    if !mapped.is_empty() {
        sqlx::query(
            "UPDATE execution_tasks t SET depends_on = d.deps
               FROM (SELECT task, array_agg(dep ORDER BY dep) AS deps
                       FROM UNNEST($1::uuid[], $2::uuid[]) AS u(task, dep) GROUP BY task) d
              WHERE t.id = d.task",
        )
        .bind(mapped.iter().map(|m| m.0).collect::<Vec<_>>())
        .bind(mapped.iter().map(|m| m.1).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    let leaves = leaf_tasks + subtasks.len();
    Ok(Some((
        u32::try_from(tasks.len()).unwrap_or(0),
        u32::try_from(leaves).unwrap_or(0),
    )))
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

/// Who holds a leaf and at which attempt, for authorising an agent's report.
pub async fn leaf_holder(
    db: impl PgExecutor<'_>,
    execution_id: Id,
    leaf: Id,
) -> Result<Option<(Option<Id>, u32)>, Error> {
    let row: Option<(Option<Id>, i32)> = sqlx::query_as(
        "SELECT assigned_agent_id, attempt FROM execution_subtasks WHERE id = $2 AND execution_id = $1
         UNION ALL
         SELECT assigned_agent_id, attempt FROM execution_tasks WHERE id = $2 AND execution_id = $1 AND is_leaf",
    )
    .bind(execution_id)
    .bind(leaf)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(agent, attempt)| (agent, u32_of(attempt))))
}

// ---------------------------------------------------------------------------------------------
// The task tree for the API
// ---------------------------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct TaskViewRow {
    id: Id,
    task_id: Option<Id>,
    plan_node_id: Id,
    wbs: String,
    title: String,
    status: String,
    is_leaf: bool,
    capability: Option<String>,
    attempt: i32,
    failures: i32,
    max_attempts: i32,
    assigned_agent_id: Option<Id>,
    progress: f64,
    lease_deadline: Option<Timestamp>,
    next_attempt_at: Option<Timestamp>,
    result: Option<Value>,
    error: Option<String>,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
}

/// The execution's tasks with their subtasks nested, in execution order.
pub async fn tasks(db: impl PgExecutor<'_>, execution_id: Id) -> Result<Vec<ExecutionTask>, Error> {
    let rows: Vec<TaskViewRow> = sqlx::query_as(
        "SELECT id, task_id, plan_node_id, wbs, title, status, is_leaf, capability, attempt, failures,
                max_attempts, assigned_agent_id, progress, lease_deadline, next_attempt_at, result, error,
                started_at, finished_at
           FROM (SELECT t.id, NULL::uuid AS task_id, t.plan_task_id AS plan_node_id, t.wbs, t.title, t.status,
                        t.is_leaf, t.capability, t.attempt, t.failures, t.max_attempts, t.assigned_agent_id,
                        t.progress, t.lease_deadline, t.next_attempt_at, t.result, t.error, t.started_at,
                        t.finished_at, t.position AS task_position, 0 AS sub_position
                   FROM execution_tasks t WHERE t.execution_id = $1
                 UNION ALL
                 SELECT s.id, s.task_id, s.plan_subtask_id, s.wbs, s.title, s.status, true, s.capability,
                        s.attempt, s.failures, s.max_attempts, s.assigned_agent_id, s.progress, s.lease_deadline,
                        s.next_attempt_at, s.result, s.error, s.started_at, s.finished_at, t.position,
                        s.position + 1
                   FROM execution_subtasks s JOIN execution_tasks t ON t.id = s.task_id
                  WHERE s.execution_id = $1) nodes
          ORDER BY task_position, sub_position",
    )
    .bind(execution_id)
    .fetch_all(db)
    .await?;
    let mut tasks: Vec<ExecutionTask> = Vec::new();
    for row in rows {
        match row.task_id {
            None => tasks.push(ExecutionTask {
                id: row.id,
                execution_id,
                plan_task_id: row.plan_node_id,
                wbs: row.wbs,
                title: row.title,
                status: task_status("execution_tasks", &row.status)?,
                is_leaf: row.is_leaf,
                capability: row.capability,
                attempt: u32_of(row.attempt),
                failures: u32_of(row.failures),
                max_attempts: u32_of(row.max_attempts),
                assigned_agent_id: row.assigned_agent_id,
                progress: row.progress,
                lease_deadline: row.lease_deadline,
                next_attempt_at: row.next_attempt_at,
                result: row.result,
                error: row.error,
                started_at: row.started_at,
                finished_at: row.finished_at,
                subtasks: Vec::new(),
            }),
            Some(task_id) => {
                let sub = ExecutionSubtask {
                    id: row.id,
                    task_id,
                    plan_subtask_id: row.plan_node_id,
                    wbs: row.wbs,
                    title: row.title,
                    status: task_status("execution_subtasks", &row.status)?,
                    capability: row.capability,
                    attempt: u32_of(row.attempt),
                    failures: u32_of(row.failures),
                    max_attempts: u32_of(row.max_attempts),
                    assigned_agent_id: row.assigned_agent_id,
                    progress: row.progress,
                    lease_deadline: row.lease_deadline,
                    next_attempt_at: row.next_attempt_at,
                    result: row.result,
                    error: row.error,
                    started_at: row.started_at,
                    finished_at: row.finished_at,
                };
                match tasks.last_mut() {
                    Some(task) if task.id == task_id => task.subtasks.push(sub),
                    _ => {
                        return Err(Error::corrupt(
                            "execution_subtasks",
                            format!("subtask {} out of order", sub.id),
                        ));
                    }
                }
            }
        }
    }
    Ok(tasks)
}
