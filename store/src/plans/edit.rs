//! An operator's changes to a plan: approving it, correcting one leaf, or replacing the whole
//! decomposition before any execution started from it.

use planexec_schemas::Id;
use planexec_schemas::api::UpdatePlanTaskRequest;
use planexec_schemas::decomposition::Decomposition;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use super::write::insert_tree;
use crate::Error;

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
