//! Starting executions: their tasks and subtasks copied from their plans, once.
//!
//! Many executions start in one transaction (a burst of creations), so the copy is batched:
//! each plan is read once however many of its executions start, and all their rows are written
//! with one statement per table, dependencies included.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use planexec_schemas::Id;
use planexec_schemas::execution::TaskStatus;
use sqlx::PgConnection;

use super::engine::NodeRow;
use crate::Error;
use crate::rows::i32_of;

/// The defaults a materialised task gets when its plan does not say.
#[derive(Debug, Clone, Copy)]
pub struct TaskDefaults {
    pub timeout_seconds: u32,
    pub max_attempts: u32,
}

/// What materialising wrote: the counts its history event reports, and the rows as
/// [`super::engine::load_nodes`] would read them back (in execution order), so the transaction
/// that starts the execution need not read them again.
#[derive(Debug, Clone, PartialEq)]
pub struct Materialised {
    pub tasks: u32,
    pub leaves: u32,
    pub nodes: Vec<NodeRow>,
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

/// One plan's tasks (in position order), subtasks (by task, in position order) and
/// dependencies.
struct PlanSource {
    tasks: Vec<PlanTaskSource>,
    subtasks: HashMap<Id, Vec<PlanSubtaskSource>>,
    deps: Vec<(Id, Id)>,
}

/// The rows of one execution's copy, and the plan rows they copy.
struct Copy {
    execution_id: Id,
    nodes: Vec<NodeRow>,
    /// Per node: the plan task or subtask it copies, and its position.
    sources: Vec<(Id, i32)>,
    tasks: u32,
    leaves: u32,
}

/// Copies the plan's tasks and subtasks into the execution; returns what it wrote, or `None`
/// when the execution already has its tasks (materialising twice changes nothing).
pub async fn materialise(
    conn: &mut PgConnection,
    execution_id: Id,
    plan_id: Id,
    defaults: TaskDefaults,
) -> Result<Option<Materialised>, Error> {
    Ok(materialise_many(conn, &[(execution_id, plan_id)], defaults)
        .await?
        .remove(&execution_id))
}

/// [`materialise`] for many `(execution, plan)` pairs; those that already have their tasks are
/// left out of the answer.
pub async fn materialise_many(
    conn: &mut PgConnection,
    starts: &[(Id, Id)],
    defaults: TaskDefaults,
) -> Result<HashMap<Id, Materialised>, Error> {
    let ids: Vec<Id> = starts.iter().map(|s| s.0).collect();
    let existing: HashSet<Id> = sqlx::query_scalar(
        "SELECT DISTINCT execution_id FROM execution_tasks WHERE execution_id = ANY($1)",
    )
    .bind(&ids)
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let mut plans: HashMap<Id, PlanSource> = HashMap::new();
    let mut copies: Vec<Copy> = Vec::new();
    for &(execution_id, plan_id) in starts {
        if existing.contains(&execution_id) || copies.iter().any(|c| c.execution_id == execution_id)
        {
            continue;
        }
        if let Entry::Vacant(slot) = plans.entry(plan_id) {
            slot.insert(read_plan(&mut *conn, plan_id).await?);
        }
        copies.push(copy(execution_id, &plans[&plan_id], defaults));
    }
    insert(conn, &copies).await?;
    Ok(copies
        .into_iter()
        .map(|c| {
            let written = Materialised {
                tasks: c.tasks,
                leaves: c.leaves,
                nodes: c.nodes,
            };
            (c.execution_id, written)
        })
        .collect())
}

async fn read_plan(conn: &mut PgConnection, plan_id: Id) -> Result<PlanSource, Error> {
    let tasks: Vec<PlanTaskSource> = sqlx::query_as(
        "SELECT t.id, t.wbs, t.position, t.title, t.capability, t.timeout_seconds, t.max_attempts,
                NOT EXISTS (SELECT 1 FROM plan_subtasks s WHERE s.task_id = t.id) AS is_leaf
           FROM plan_tasks t WHERE t.plan_id = $1 AND t.kind = 'task' ORDER BY t.position",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut subtasks: HashMap<Id, Vec<PlanSubtaskSource>> = HashMap::new();
    let rows: Vec<PlanSubtaskSource> = sqlx::query_as(
        "SELECT id, task_id, wbs, position, title, capability, timeout_seconds, max_attempts
           FROM plan_subtasks WHERE plan_id = $1 ORDER BY task_id, position",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        subtasks.entry(row.task_id).or_default().push(row);
    }
    let deps: Vec<(Id, Id)> = sqlx::query_as(
        "SELECT task_id, depends_on_id FROM plan_task_dependencies WHERE plan_id = $1",
    )
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(PlanSource {
        tasks,
        subtasks,
        deps,
    })
}

/// One execution's rows, with new ids, as the table's defaults make them (pending, never
/// dispatched); each task's dependencies sorted, as the row stores them.
fn copy(execution_id: Id, plan: &PlanSource, defaults: TaskDefaults) -> Copy {
    let timeout = |t: Option<i32>| t.unwrap_or(i32_of(defaults.timeout_seconds));
    let attempts = |a: Option<i32>| a.unwrap_or(i32_of(defaults.max_attempts));
    let new_ids: HashMap<Id, Id> = plan
        .tasks
        .iter()
        .map(|t| (t.id, planexec_schemas::new_id()))
        .collect();
    let mut depends_on: HashMap<Id, Vec<Id>> = HashMap::new();
    for (task, dep) in &plan.deps {
        if let (Some(task), Some(dep)) = (new_ids.get(task), new_ids.get(dep)) {
            depends_on.entry(*task).or_default().push(*dep);
        }
    }
    let fresh = NodeRow {
        execution_id,
        status: TaskStatus::Pending.as_str().to_owned(),
        ..NodeRow::default()
    };
    let mut copy = Copy {
        execution_id,
        nodes: Vec::new(),
        sources: Vec::new(),
        tasks: 0,
        leaves: 0,
    };
    for task in &plan.tasks {
        let id = new_ids[&task.id];
        let mut deps = depends_on.remove(&id).unwrap_or_default();
        deps.sort_unstable();
        deps.dedup();
        copy.nodes.push(NodeRow {
            id,
            wbs: task.wbs.clone(),
            title: task.title.clone(),
            is_leaf: task.is_leaf,
            capability: task.capability.clone().filter(|_| task.is_leaf),
            depends_on: deps,
            max_attempts: attempts(task.max_attempts),
            timeout_seconds: timeout(task.timeout_seconds),
            ..fresh.clone()
        });
        copy.sources.push((task.id, task.position));
        copy.tasks += 1;
        copy.leaves += u32::from(task.is_leaf);
        for sub in plan.subtasks.get(&task.id).into_iter().flatten() {
            copy.nodes.push(NodeRow {
                is_subtask: true,
                id: planexec_schemas::new_id(),
                task_id: Some(id),
                wbs: sub.wbs.clone(),
                title: sub.title.clone(),
                is_leaf: true,
                capability: Some(sub.capability.clone()),
                max_attempts: attempts(sub.max_attempts),
                timeout_seconds: timeout(sub.timeout_seconds),
                ..fresh.clone()
            });
            copy.sources.push((sub.id, sub.position));
            copy.leaves += 1;
        }
    }
    copy
}

/// Writes every copy's rows: one statement for the tasks, one for the subtasks.
async fn insert(conn: &mut PgConnection, copies: &[Copy]) -> Result<(), Error> {
    let rows = || copies.iter().flat_map(|c| c.nodes.iter().zip(&c.sources));
    let tasks: Vec<(&NodeRow, &(Id, i32))> = rows().filter(|(n, _)| !n.is_subtask).collect();
    let subtasks: Vec<(&NodeRow, &(Id, i32))> = rows().filter(|(n, _)| n.is_subtask).collect();
    if !tasks.is_empty() {
        sqlx::query(
            "INSERT INTO execution_tasks (id, execution_id, plan_task_id, wbs, position, title, is_leaf,
                                          capability, status, max_attempts, timeout_seconds, depends_on)
             SELECT u.id, u.execution_id, u.plan_task_id, u.wbs, u.position, u.title, u.is_leaf, u.capability,
                    'pending', u.max_attempts, u.timeout_seconds, u.depends_on::uuid[]
               FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int4[], $6::text[], $7::bool[],
                           $8::text[], $9::int4[], $10::int4[], $11::text[])
                    AS u(id, execution_id, plan_task_id, wbs, position, title, is_leaf, capability, max_attempts,
                         timeout_seconds, depends_on)",
        )
        .bind(tasks.iter().map(|(n, _)| n.id).collect::<Vec<_>>())
        .bind(tasks.iter().map(|(n, _)| n.execution_id).collect::<Vec<_>>())
        .bind(tasks.iter().map(|(_, s)| s.0).collect::<Vec<_>>())
        .bind(tasks.iter().map(|(n, _)| n.wbs.as_str()).collect::<Vec<_>>())
        .bind(tasks.iter().map(|(_, s)| s.1).collect::<Vec<_>>())
        .bind(tasks.iter().map(|(n, _)| n.title.as_str()).collect::<Vec<_>>())
        .bind(tasks.iter().map(|(n, _)| n.is_leaf).collect::<Vec<_>>())
        .bind(tasks.iter().map(|(n, _)| n.capability.as_deref()).collect::<Vec<_>>())
        .bind(tasks.iter().map(|(n, _)| n.max_attempts).collect::<Vec<_>>())
        .bind(tasks.iter().map(|(n, _)| n.timeout_seconds).collect::<Vec<_>>())
        .bind(tasks.iter().map(|(n, _)| array_literal(&n.depends_on)).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    if !subtasks.is_empty() {
        sqlx::query(
            "INSERT INTO execution_subtasks (id, execution_id, task_id, plan_subtask_id, wbs, position, title,
                                             capability, status, max_attempts, timeout_seconds)
             SELECT u.id, u.execution_id, u.task_id, u.plan_subtask_id, u.wbs, u.position, u.title, u.capability,
                    'pending', u.max_attempts, u.timeout_seconds
               FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int4[], $7::text[],
                           $8::text[], $9::int4[], $10::int4[])
                    AS u(id, execution_id, task_id, plan_subtask_id, wbs, position, title, capability,
                         max_attempts, timeout_seconds)",
        )
        .bind(subtasks.iter().map(|(n, _)| n.id).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|(n, _)| n.execution_id).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|(n, _)| n.task_id).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|(_, s)| s.0).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|(n, _)| n.wbs.as_str()).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|(_, s)| s.1).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|(n, _)| n.title.as_str()).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|(n, _)| n.capability.as_deref()).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|(n, _)| n.max_attempts).collect::<Vec<_>>())
        .bind(subtasks.iter().map(|(n, _)| n.timeout_seconds).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A PostgreSQL array literal of uuids (`{a,b}`), cast to `uuid[]` by the statement.
fn array_literal(ids: &[Id]) -> String {
    let inner: Vec<String> = ids.iter().map(Id::to_string).collect();
    format!("{{{}}}", inner.join(","))
}
