//! Reading plans: a plan's status, the list, and the whole tree in WBS order.

use std::collections::HashMap;

use planexec_schemas::plan::{
    CapabilityChoice, DurationDays, Plan, PlanCounts, PlanDependency, PlanSource, PlanSourceKind,
    PlanStatus, PlanSubtask, PlanTask, PlanTaskKind,
};
use planexec_schemas::{Id, Timestamp};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};

use crate::Error;
use crate::rows::u32_of;

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

    plan.phases = tree(id, tasks, subtasks, deps)?;
    Ok(Some(plan))
}

/// The phases of plan `id`, each with its tasks in WBS order and their subtasks and dependencies.
fn tree(
    id: Id,
    tasks: Vec<TaskRow>,
    subtasks: Vec<SubtaskRow>,
    deps: Vec<(Id, Id, String, Option<String>)>,
) -> Result<Vec<PlanTask>, Error> {
    let mut subs_by_task: HashMap<Id, Vec<PlanSubtask>> = HashMap::new();
    for s in subtasks {
        subs_by_task.entry(s.task_id).or_default().push(subtask(s));
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
        let mut depends_on = deps_by_task.remove(&t.id).unwrap_or_default();
        depends_on.sort_by_key(|d| wbs_key(&d.depends_on_wbs));
        let mut subtasks = subs_by_task.remove(&t.id).unwrap_or_default();
        subtasks.sort_by_key(|s| s.position);
        let node = task(id, t, depends_on, subtasks)?;
        match (node.kind, node.parent_id) {
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
    Ok(phases)
}

/// A phase or task of plan `plan_id`, from its row.
fn task(
    plan_id: Id,
    t: TaskRow,
    depends_on: Vec<PlanDependency>,
    subtasks: Vec<PlanSubtask>,
) -> Result<PlanTask, Error> {
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
    Ok(PlanTask {
        id: t.id,
        plan_id,
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
    })
}

fn subtask(s: SubtaskRow) -> PlanSubtask {
    PlanSubtask {
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
    }
}
