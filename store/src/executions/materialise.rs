//! Starting an execution: its tasks and subtasks copied from the plan, once.

use std::collections::HashMap;

use planexec_schemas::Id;
use sqlx::PgConnection;

use crate::Error;
use crate::rows::i32_of;

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
