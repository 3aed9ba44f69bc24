//! Executions in time: a new one is due at once (the scheduler materialises its tasks), due ones
//! are found by their stored wake-up time, and agents coming or going, or a plan's approval,
//! make executions due again.

use planexec_schemas::execution::RoutingPolicy;
use planexec_schemas::{Id, Timestamp};
use sqlx::{PgConnection, PgExecutor};

use super::{EXECUTION_COLUMNS, ExecutionRow, IN_FLIGHT_STATUSES};
use crate::Error;
use crate::rows::i32_of;

/// A new execution (CREATED); the scheduler picks it up at once to materialise its tasks.
#[derive(Debug, Clone)]
pub struct NewExecution {
    pub id: Id,
    pub plan_id: Id,
    pub agent_id: Id,
    pub max_parallel: u32,
    pub routing: RoutingPolicy,
}

/// Inserts `new`; `None` when an execution with its id exists already (a creation sent again).
pub async fn insert(
    db: impl PgExecutor<'_>,
    new: &NewExecution,
) -> Result<Option<ExecutionRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO executions (id, plan_id, agent_id, status, max_parallel, routing, next_wakeup_at)
         VALUES ($1, $2, $3, 'CREATED', $4, $5, now())
         ON CONFLICT (id) DO NOTHING
         RETURNING {EXECUTION_COLUMNS}"
    )))
    .bind(new.id)
    .bind(new.plan_id)
    .bind(new.agent_id)
    .bind(i32_of(new.max_parallel))
    .bind(new.routing.as_str())
    .fetch_optional(db)
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
/// tasks on them, and every blocked one. Paused ones are left out: resuming looks at them.
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

/// Executions in which `agent` holds a running leaf that started before `before`; found through
/// the executions in flight (`IN_FLIGHT_STATUSES`).
pub async fn running_on(
    db: impl PgExecutor<'_>,
    agent: Id,
    before: Timestamp,
) -> Result<Vec<Id>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT e.id FROM executions e
          WHERE e.status = ANY($3)
            AND (EXISTS (SELECT 1 FROM execution_tasks t WHERE t.execution_id = e.id
                          AND t.assigned_agent_id = $1 AND t.status = 'running' AND t.started_at < $2)
                 OR EXISTS (SELECT 1 FROM execution_subtasks s WHERE s.execution_id = e.id
                             AND s.assigned_agent_id = $1 AND s.status = 'running' AND s.started_at < $2))",
    )
    .bind(agent)
    .bind(before)
    .bind(&IN_FLIGHT_STATUSES[..])
    .fetch_all(db)
    .await?)
}
