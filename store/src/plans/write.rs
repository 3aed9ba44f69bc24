//! Storing a decomposition as a plan.
//!
//! Rows are sent as one JSON document per table (`jsonb_to_recordset`): plans are written rarely
//! and their rows hold arrays, which UNNEST cannot carry.

use std::collections::HashMap;

use planexec_schemas::decomposition::Decomposition;
use planexec_schemas::plan::{CapabilityChoice, PlanSourceKind};
use planexec_schemas::{Id, new_id};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::Error;

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
pub(super) async fn insert_tree(
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
