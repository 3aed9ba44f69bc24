//! Reads of executions for the API: one execution, the list, its task tree, and who holds a
//! leaf (for authorising an agent's report). The gateway calls only these.

use planexec_schemas::execution::{
    Execution, ExecutionStatus, ExecutionSubtask, ExecutionTask, TaskStatus,
};
use planexec_schemas::mcp::DependencyOutput;
use planexec_schemas::{Id, Timestamp};
use serde_json::Value;
use sqlx::PgExecutor;

use super::{EXECUTION_COLUMNS, ExecutionRow};
use crate::Error;
use crate::rows::{task_status, u32_of};

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

/// The current attempt of leaf `leaf` of `execution_id` and its status, if there is such a leaf.
pub async fn leaf_attempt(
    db: impl PgExecutor<'_>,
    execution_id: Id,
    leaf: Id,
) -> Result<Option<(u32, TaskStatus)>, Error> {
    let row: Option<(i32, String)> = sqlx::query_as(
        "SELECT attempt, status FROM execution_subtasks WHERE id = $2 AND execution_id = $1
         UNION ALL
         SELECT attempt, status FROM execution_tasks WHERE id = $2 AND execution_id = $1 AND is_leaf",
    )
    .bind(execution_id)
    .bind(leaf)
    .fetch_optional(db)
    .await?;
    row.map(|(attempt, status)| Ok((u32_of(attempt), task_status("execution tasks", &status)?)))
        .transpose()
}

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

#[derive(sqlx::FromRow)]
struct DependencyRow {
    id: Id,
    wbs: String,
    title: String,
    status: String,
    is_subtask: bool,
    result: Option<Value>,
}

/// What the tasks leaf `leaf` of `execution` depends on produced: each task it waits for (a
/// subtask waits for what its task waits for) and that task's subtasks, in execution order.
pub async fn dependency_outputs(
    db: impl PgExecutor<'_>,
    execution_id: Id,
    leaf: Id,
) -> Result<Vec<DependencyOutput>, Error> {
    let rows: Vec<DependencyRow> = sqlx::query_as(
        "WITH deps AS (
           SELECT unnest(COALESCE(
             (SELECT depends_on FROM execution_tasks WHERE execution_id = $1 AND id = $2),
             (SELECT t.depends_on FROM execution_subtasks s JOIN execution_tasks t ON t.id = s.task_id
               WHERE s.execution_id = $1 AND s.id = $2),
             '{}'::uuid[])) AS id)
         SELECT id, wbs, title, status, is_subtask, result FROM (
           SELECT t.id, t.wbs, t.title, t.status, false AS is_subtask, t.result,
                  t.position AS task_position, 0 AS sub_position
             FROM execution_tasks t WHERE t.execution_id = $1 AND t.id IN (SELECT id FROM deps)
           UNION ALL
           SELECT s.id, s.wbs, s.title, s.status, true, s.result, t.position, s.position + 1
             FROM execution_subtasks s JOIN execution_tasks t ON t.id = s.task_id
            WHERE s.execution_id = $1 AND s.task_id IN (SELECT id FROM deps)) nodes
         ORDER BY task_position, sub_position",
    )
    .bind(execution_id)
    .bind(leaf)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(DependencyOutput {
                task_id: row.id,
                wbs: row.wbs,
                title: row.title,
                status: task_status(
                    if row.is_subtask {
                        "execution_subtasks"
                    } else {
                        "execution_tasks"
                    },
                    &row.status,
                )?,
                output: row.result,
            })
        })
        .collect()
}

/// The execution leaf `leaf` (a task or a subtask) belongs to.
pub async fn leaf_execution(db: impl PgExecutor<'_>, leaf: Id) -> Result<Option<Id>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT execution_id FROM execution_tasks WHERE id = $1 AND is_leaf
         UNION ALL
         SELECT execution_id FROM execution_subtasks WHERE id = $1
         LIMIT 1",
    )
    .bind(leaf)
    .fetch_optional(db)
    .await?)
}
