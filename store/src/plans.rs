//! Plans: storing decompositions, reading the tree, operator edits and reviews.
//!
//! A decomposition is stored in one transaction, so a failed import leaves nothing behind.
//! Rows are sent as one JSON document per table (`jsonb_to_recordset`): plans are written rarely
//! and their rows hold arrays, which UNNEST cannot carry.

use std::collections::HashMap;

use planexec_decompose::Decomposition;
use planexec_schemas::api::UpdatePlanTaskRequest;
use planexec_schemas::plan::{
    CapabilityChoice, DurationDays, Plan, PlanCounts, PlanDependency, PlanSource, PlanSourceKind,
    PlanStatus, PlanSubtask, PlanTask, PlanTaskKind,
};
use planexec_schemas::{Id, Timestamp, new_id};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::Error;
use crate::rows::u32_of;

/// Stores a decomposition as a new plan; returns its id.
pub async fn insert(pool: &PgPool, plan: &Decomposition) -> Result<Id, Error> {
    let id = new_id();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO plans (id, title, description, source_kind, source_reference, planexe_project_id, status,
                            confidence, review_reasons, warnings, counts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(&plan.title)
    .bind(&plan.description)
    .bind(plan.source.kind.unwrap_or(PlanSourceKind::Document).as_str())
    .bind(&plan.source.reference)
    .bind(&plan.source.planexe_project_id)
    .bind(plan.status.as_str())
    .bind(plan.confidence)
    .bind(&plan.review_reasons)
    .bind(&plan.warnings)
    .bind(serde_json::to_value(plan.counts).unwrap_or(Value::Null))
    .execute(&mut *tx)
    .await?;
    insert_tree(&mut tx, id, plan).await?;
    tx.commit().await?;
    Ok(id)
}

/// Inserts the phases, tasks, subtasks and dependencies of `plan` under `plan_id`.
async fn insert_tree(
    conn: &mut PgConnection,
    plan_id: Id,
    plan: &Decomposition,
) -> Result<(), Error> {
    let mut tasks = Vec::new();
    let mut subtasks = Vec::new();
    let mut id_of_wbs: HashMap<&str, Id> = HashMap::new();
    for (p, phase) in plan.phases.iter().enumerate() {
        let phase_id = new_id();
        tasks.push(json!({
            "id": phase_id, "plan_id": plan_id, "parent_id": null, "kind": "phase", "wbs": phase.wbs,
            "position": p, "title": phase.title, "description": phase.description,
            "planexe_id": phase.planexe_id, "duration_days": phase.duration_days, "resources_needed": [],
            "params": null,
        }));
        for task in &phase.tasks {
            let task_id = new_id();
            id_of_wbs.insert(&task.wbs, task_id);
            let mut row = json!({
                "id": task_id, "plan_id": plan_id, "parent_id": phase_id, "kind": "task", "wbs": task.wbs,
                "position": task.position, "title": task.title, "description": task.description,
                "planexe_id": task.planexe_id, "duration_days": task.duration_days,
                "resources_needed": task.resources_needed, "params": task.params,
                "timeout_seconds": task.timeout_seconds, "max_attempts": task.max_attempts,
            });
            if let (Some(leaf), Some(map)) = (&task.leaf, row.as_object_mut()) {
                map.extend(capability_columns(&leaf.capability, leaf.confidence));
            }
            tasks.push(row);
            for (s, sub) in task.subtasks.iter().enumerate() {
                let mut row = json!({
                    "id": new_id(), "plan_id": plan_id, "task_id": task_id, "wbs": sub.wbs, "position": s,
                    "title": sub.title, "description": sub.description, "planexe_id": sub.planexe_id,
                    "resources_needed": sub.resources_needed, "params": sub.params,
                    "timeout_seconds": sub.timeout_seconds, "max_attempts": sub.max_attempts,
                });
                if let Some(map) = row.as_object_mut() {
                    map.extend(capability_columns(
                        &sub.leaf.capability,
                        sub.leaf.confidence,
                    ));
                }
                subtasks.push(row);
            }
        }
    }
    let mut deps = Vec::new();
    for task in plan.phases.iter().flat_map(|p| &p.tasks) {
        for dep in &task.depends_on {
            let (Some(from), Some(on)) = (
                id_of_wbs.get(task.wbs.as_str()),
                id_of_wbs.get(dep.on_wbs.as_str()),
            ) else {
                return Err(Error::Conflict(format!(
                    "task {} depends on {}, which is not a task of the plan",
                    task.wbs, dep.on_wbs
                )));
            };
            deps.push(json!({"plan_id": plan_id, "task_id": from, "depends_on_id": on, "explanation": dep.explanation}));
        }
    }
    sqlx::query(
        "INSERT INTO plan_tasks (id, plan_id, parent_id, kind, wbs, position, title, description, planexe_id,
                                 duration_days, resources_needed, capability, capability_score, capability_evidence,
                                 capability_chosen_by, confidence, params, timeout_seconds, max_attempts)
         SELECT id, plan_id, parent_id, kind, wbs, position, title, description, planexe_id, duration_days,
                COALESCE(resources_needed, '{}'), capability, capability_score, capability_evidence,
                capability_chosen_by, confidence, COALESCE(params, 'null'), timeout_seconds, max_attempts
           FROM jsonb_to_recordset($1) AS r(id uuid, plan_id uuid, parent_id uuid, kind text, wbs text,
                position int, title text, description text, planexe_id text, duration_days jsonb,
                resources_needed text[], capability text, capability_score float8, capability_evidence text,
                capability_chosen_by text, confidence float8, params jsonb, timeout_seconds int, max_attempts int)
          ORDER BY kind DESC",
    )
    .bind(Value::Array(tasks))
    .execute(&mut *conn)
    .await?;
    if !subtasks.is_empty() {
        sqlx::query(
            "INSERT INTO plan_subtasks (id, plan_id, task_id, wbs, position, title, description, planexe_id,
                                        resources_needed, capability, capability_score, capability_evidence,
                                        capability_chosen_by, confidence, params, timeout_seconds, max_attempts)
             SELECT id, plan_id, task_id, wbs, position, title, description, planexe_id,
                    COALESCE(resources_needed, '{}'), capability, capability_score, capability_evidence,
                    capability_chosen_by, confidence, COALESCE(params, 'null'), timeout_seconds, max_attempts
               FROM jsonb_to_recordset($1) AS r(id uuid, plan_id uuid, task_id uuid, wbs text, position int,
                    title text, description text, planexe_id text, resources_needed text[], capability text,
                    capability_score float8, capability_evidence text, capability_chosen_by text,
                    confidence float8, params jsonb, timeout_seconds int, max_attempts int)",
        )
        .bind(Value::Array(subtasks))
        .execute(&mut *conn)
        .await?;
    }
    if !deps.is_empty() {
        sqlx::query(
            "INSERT INTO plan_task_dependencies (plan_id, task_id, depends_on_id, explanation)
             SELECT plan_id, task_id, depends_on_id, explanation
               FROM jsonb_to_recordset($1) AS r(plan_id uuid, task_id uuid, depends_on_id uuid, explanation text)
             ON CONFLICT DO NOTHING",
        )
        .bind(Value::Array(deps))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn capability_columns(
    choice: &CapabilityChoice,
    confidence: f64,
) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("capability".into(), json!(choice.capability));
    map.insert("capability_score".into(), json!(choice.match_score));
    map.insert("capability_evidence".into(), json!(choice.evidence));
    map.insert("capability_chosen_by".into(), json!(choice.chosen_by));
    map.insert("confidence".into(), json!(confidence));
    map
}

#[derive(sqlx::FromRow)]
struct PlanRow {
    id: Id,
    title: String,
    description: String,
    source_kind: String,
    source_reference: Option<String>,
    planexe_project_id: Option<String>,
    status: String,
    confidence: f64,
    review_reasons: Vec<String>,
    counts: Value,
    created_at: Timestamp,
    approved_at: Option<Timestamp>,
}

const PLAN_COLUMNS: &str = "id, title, description, source_kind, source_reference, planexe_project_id, status, \
                            confidence, review_reasons, counts, created_at, approved_at";

impl TryFrom<PlanRow> for Plan {
    type Error = Error;

    fn try_from(row: PlanRow) -> Result<Self, Error> {
        Ok(Plan {
            id: row.id,
            title: row.title,
            description: row.description,
            source: PlanSource {
                kind: Some(PlanSourceKind::parse(&row.source_kind).ok_or_else(|| {
                    Error::corrupt("plans", format!("source_kind {:?}", row.source_kind))
                })?),
                reference: row.source_reference,
                planexe_project_id: row.planexe_project_id,
            },
            status: PlanStatus::parse(&row.status)
                .ok_or_else(|| Error::corrupt("plans", format!("status {:?}", row.status)))?,
            confidence: row.confidence,
            review_reasons: row.review_reasons,
            counts: serde_json::from_value::<PlanCounts>(row.counts)
                .map_err(|e| Error::corrupt("plans", format!("counts: {e}")))?,
            created_at: row.created_at,
            approved_at: row.approved_at,
            phases: Vec::new(),
        })
    }
}

/// The plan's status, or `None` when there is no such plan.
pub async fn status(db: impl PgExecutor<'_>, id: Id) -> Result<Option<PlanStatus>, Error> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM plans WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    status
        .map(|s| {
            PlanStatus::parse(&s).ok_or_else(|| Error::corrupt("plans", format!("status {s:?}")))
        })
        .transpose()
}

/// A page of plans, newest first, without their trees.
pub async fn list(
    db: impl PgExecutor<'_>,
    limit: u32,
    cursor: Option<(Timestamp, Id)>,
) -> Result<(Vec<Plan>, Option<(Timestamp, Id)>), Error> {
    let rows: Vec<PlanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PLAN_COLUMNS} FROM plans
          WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2))
          ORDER BY created_at DESC, id DESC LIMIT $3"
    )))
    .bind(cursor.map(|c| c.0))
    .bind(cursor.map(|c| c.1))
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| (r.created_at, r.id)))
        .flatten();
    Ok((
        rows.into_iter()
            .map(Plan::try_from)
            .collect::<Result<_, _>>()?,
        next,
    ))
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: Id,
    parent_id: Option<Id>,
    kind: String,
    wbs: String,
    position: i32,
    title: String,
    description: String,
    planexe_id: Option<String>,
    duration_days: Option<Value>,
    resources_needed: Vec<String>,
    capability: Option<String>,
    capability_score: Option<f64>,
    capability_evidence: Option<String>,
    capability_chosen_by: Option<String>,
    confidence: Option<f64>,
    params: Value,
    timeout_seconds: Option<i32>,
    max_attempts: Option<i32>,
}

#[derive(sqlx::FromRow)]
struct SubtaskRow {
    id: Id,
    task_id: Id,
    wbs: String,
    position: i32,
    title: String,
    description: String,
    planexe_id: Option<String>,
    resources_needed: Vec<String>,
    capability: String,
    capability_score: f64,
    capability_evidence: String,
    capability_chosen_by: String,
    confidence: f64,
    params: Value,
    timeout_seconds: Option<i32>,
    max_attempts: Option<i32>,
}

/// Sorts WBS numbers numerically: `1.2` before `1.10`.
fn wbs_key(wbs: &str) -> Vec<u32> {
    wbs.split('.')
        .map(|part| part.parse().unwrap_or(u32::MAX))
        .collect()
}

/// The plan with its whole tree: phases, their tasks in WBS order, subtasks, dependencies.
pub async fn get(pool: &PgPool, id: Id) -> Result<Option<Plan>, Error> {
    let row: Option<PlanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut plan = Plan::try_from(row)?;
    let tasks: Vec<TaskRow> = sqlx::query_as(
        "SELECT id, parent_id, kind, wbs, position, title, description, planexe_id, duration_days,
                resources_needed, capability, capability_score, capability_evidence, capability_chosen_by,
                confidence, params, timeout_seconds, max_attempts
           FROM plan_tasks WHERE plan_id = $1",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let subtasks: Vec<SubtaskRow> = sqlx::query_as(
        "SELECT id, task_id, wbs, position, title, description, planexe_id, resources_needed, capability,
                capability_score, capability_evidence, capability_chosen_by, confidence, params, timeout_seconds,
                max_attempts
           FROM plan_subtasks WHERE plan_id = $1 ORDER BY task_id, position",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let deps: Vec<(Id, Id, String, Option<String>)> = sqlx::query_as(
        "SELECT d.task_id, d.depends_on_id, t.wbs, d.explanation
           FROM plan_task_dependencies d JOIN plan_tasks t ON t.id = d.depends_on_id
          WHERE d.plan_id = $1",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;

    let mut subs_by_task: HashMap<Id, Vec<PlanSubtask>> = HashMap::new();
    for s in subtasks {
        subs_by_task
            .entry(s.task_id)
            .or_default()
            .push(PlanSubtask {
                id: s.id,
                task_id: s.task_id,
                wbs: s.wbs,
                position: s.position,
                title: s.title,
                description: s.description,
                planexe_id: s.planexe_id,
                resources_needed: s.resources_needed,
                capability: CapabilityChoice {
                    capability: s.capability,
                    match_score: s.capability_score,
                    evidence: s.capability_evidence,
                    chosen_by: s.capability_chosen_by,
                },
                confidence: s.confidence,
                params: s.params,
                timeout_seconds: s.timeout_seconds.map(u32_of),
                max_attempts: s.max_attempts.map(u32_of),
            });
    }
    let mut deps_by_task: HashMap<Id, Vec<PlanDependency>> = HashMap::new();
    for (task, on, on_wbs, explanation) in deps {
        deps_by_task.entry(task).or_default().push(PlanDependency {
            depends_on_id: on,
            depends_on_wbs: on_wbs,
            explanation,
        });
    }
    let mut phases = Vec::new();
    let mut tasks_by_phase: HashMap<Id, Vec<PlanTask>> = HashMap::new();
    for t in tasks {
        let kind = match t.kind.as_str() {
            "phase" => PlanTaskKind::Phase,
            "task" => PlanTaskKind::Task,
            other => return Err(Error::corrupt("plan_tasks", format!("kind {other:?}"))),
        };
        let capability = match (
            t.capability,
            t.capability_score,
            t.capability_evidence,
            t.capability_chosen_by,
        ) {
            (Some(capability), Some(match_score), Some(evidence), Some(chosen_by)) => {
                Some(CapabilityChoice {
                    capability,
                    match_score,
                    evidence,
                    chosen_by,
                })
            }
            _ => None,
        };
        let mut depends_on = deps_by_task.remove(&t.id).unwrap_or_default();
        depends_on.sort_by_key(|d| wbs_key(&d.depends_on_wbs));
        let mut subtasks = subs_by_task.remove(&t.id).unwrap_or_default();
        subtasks.sort_by_key(|s| s.position);
        let node = PlanTask {
            id: t.id,
            plan_id: id,
            parent_id: t.parent_id,
            kind,
            wbs: t.wbs,
            position: t.position,
            title: t.title,
            description: t.description,
            planexe_id: t.planexe_id,
            duration_days: t
                .duration_days
                .and_then(|d| serde_json::from_value::<DurationDays>(d).ok()),
            resources_needed: t.resources_needed,
            capability,
            confidence: t.confidence,
            params: t.params,
            timeout_seconds: t.timeout_seconds.map(u32_of),
            max_attempts: t.max_attempts.map(u32_of),
            depends_on,
            subtasks,
            tasks: Vec::new(),
        };
        match (kind, node.parent_id) {
            (PlanTaskKind::Task, Some(parent)) => {
                tasks_by_phase.entry(parent).or_default().push(node)
            }
            _ => phases.push(node),
        }
    }
    for phase in &mut phases {
        let mut tasks = tasks_by_phase.remove(&phase.id).unwrap_or_default();
        tasks.sort_by_key(|t| wbs_key(&t.wbs));
        phase.tasks = tasks;
    }
    phases.sort_by_key(|p| wbs_key(&p.wbs));
    plan.phases = phases;
    Ok(Some(plan))
}

/// Marks a plan approved; `false` when there is no such plan.
pub async fn approve(conn: &mut PgConnection, id: Id) -> Result<bool, Error> {
    let done = sqlx::query(
        "UPDATE plans SET status = 'approved', approved_at = COALESCE(approved_at, now()), updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An operator's correction of one leaf, named by id or WBS number. A capability chosen by an
/// operator is certain: the leaf's confidence becomes 1 and the plan's is recomputed.
pub async fn update_leaf(
    pool: &PgPool,
    plan_id: Id,
    key: &str,
    change: &UpdatePlanTaskRequest,
) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    let by_id: Option<Id> = key.parse().ok();
    let subtask: Option<Id> = sqlx::query_scalar(
        "SELECT id FROM plan_subtasks WHERE plan_id = $1 AND (id = $2 OR wbs = $3)",
    )
    .bind(plan_id)
    .bind(by_id)
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    let (table, leaf) = match subtask {
        Some(id) => ("plan_subtasks", id),
        None => {
            let task: Option<(Id, bool)> = sqlx::query_as(
                "SELECT id, EXISTS (SELECT 1 FROM plan_subtasks s WHERE s.task_id = t.id)
                   FROM plan_tasks t WHERE plan_id = $1 AND kind = 'task' AND (id = $2 OR wbs = $3)",
            )
            .bind(plan_id)
            .bind(by_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            match task {
                None => {
                    return Err(Error::NotFound {
                        what: "task",
                        id: key.to_owned(),
                    });
                }
                Some((_, true)) => {
                    return Err(Error::Conflict(format!(
                        "task {key} has subtasks; change its subtasks (e.g. {key}.1) instead"
                    )));
                }
                Some((id, false)) => ("plan_tasks", id),
            }
        }
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET
            capability = COALESCE($2, capability),
            capability_score = CASE WHEN $2 IS NULL THEN capability_score ELSE 1 END,
            capability_evidence = CASE WHEN $2 IS NULL THEN capability_evidence ELSE 'set by an operator' END,
            capability_chosen_by = CASE WHEN $2 IS NULL THEN capability_chosen_by ELSE 'operator' END,
            confidence = CASE WHEN $2 IS NULL THEN confidence ELSE 1 END,
            params = COALESCE($3, params),
            timeout_seconds = COALESCE($4, timeout_seconds),
            max_attempts = COALESCE($5, max_attempts)
          WHERE id = $1"
    )))
    .bind(leaf)
    .bind(&change.capability)
    .bind(&change.params)
    .bind(change.timeout_seconds.map(|t| i32::try_from(t).unwrap_or(i32::MAX)))
    .bind(change.max_attempts.map(|a| i32::try_from(a).unwrap_or(i32::MAX)))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE plans SET updated_at = now(), confidence = COALESCE((
             SELECT round(avg(confidence)::numeric, 3)::float8 FROM (
                 SELECT confidence FROM plan_subtasks WHERE plan_id = $1
                 UNION ALL
                 SELECT confidence FROM plan_tasks t WHERE plan_id = $1 AND kind = 'task'
                    AND NOT EXISTS (SELECT 1 FROM plan_subtasks s WHERE s.task_id = t.id)) leaves), confidence)
          WHERE id = $1",
    )
    .bind(plan_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces the decomposition of a plan that no execution has started from; the new one is
/// an operator's and counts as approved.
pub async fn replace(pool: &PgPool, plan_id: Id, plan: &Decomposition) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    let exists: Option<Id> = sqlx::query_scalar("SELECT id FROM plans WHERE id = $1 FOR UPDATE")
        .bind(plan_id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(Error::NotFound {
            what: "plan",
            id: plan_id.to_string(),
        });
    }
    let started: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM execution_tasks et JOIN plan_tasks pt ON pt.id = et.plan_task_id
                         WHERE pt.plan_id = $1)",
    )
    .bind(plan_id)
    .fetch_one(&mut *tx)
    .await?;
    if started {
        return Err(Error::Conflict(
            "executions have already started from this plan's tasks; import the manual decomposition as a new plan"
                .into(),
        ));
    }
    sqlx::query("DELETE FROM plan_tasks WHERE plan_id = $1")
        .bind(plan_id)
        .execute(&mut *tx)
        .await?;
    insert_tree(&mut tx, plan_id, plan).await?;
    sqlx::query(
        "UPDATE plans SET title = $2, description = $3, source_kind = 'manual', status = 'approved',
                          confidence = $4, review_reasons = '{}', warnings = $5, counts = $6,
                          approved_at = now(), updated_at = now()
          WHERE id = $1",
    )
    .bind(plan_id)
    .bind(&plan.title)
    .bind(&plan.description)
    .bind(plan.confidence)
    .bind(&plan.warnings)
    .bind(serde_json::to_value(plan.counts).unwrap_or(Value::Null))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
