//! The figures of `GET /api/admin/metrics` and of the coordinator's gauges, computed by SQL
//! from what is stored: executions, their tasks, their history, the dead letters and agents.
//!
//! Windows read `execution_events` by `recorded_at` (indexed), executions by their own times.

use std::collections::BTreeMap;

use planexec_schemas::admin::{
    AdminMetrics, AgentActivity, AgentFigures, DurationStats, Durations, ErrorFigures,
    ExecutionFigures, RecentError,
};
use planexec_schemas::{Id, Timestamp};
use sqlx::PgConnection;

use crate::Error;
use crate::executions::IN_FLIGHT_STATUSES;

/// How many of the newest errors the report lists.
const RECENT_ERRORS: i64 = 20;

/// The report over `[since, until]`. Its statements run on one connection; call it inside a
/// REPEATABLE READ transaction for figures that agree with each other exactly.
pub async fn report(
    db: &mut PgConnection,
    since: Timestamp,
    until: Timestamp,
) -> Result<AdminMetrics, Error> {
    Ok(AdminMetrics {
        since,
        until,
        executions: executions(&mut *db, since, until).await?,
        durations: Durations {
            execution_seconds: stats(&mut *db, EXECUTION_DURATIONS, since, until).await?,
            task_seconds: stats(&mut *db, TASK_DURATIONS, since, until).await?,
        },
        errors: errors(&mut *db, since, until).await?,
        agents: agents(&mut *db, since, until).await?,
        recent_errors: recent_errors(&mut *db, since, until).await?,
    })
}

async fn executions(
    db: &mut PgConnection,
    since: Timestamp,
    until: Timestamp,
) -> Result<ExecutionFigures, Error> {
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM executions
          WHERE (created_at BETWEEN $1 AND $2) OR (updated_at BETWEEN $1 AND $2)
          GROUP BY status",
    )
    .bind(since)
    .bind(until)
    .fetch_all(&mut *db)
    .await?;
    let (finished, completed): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE status = 'COMPLETED') FROM executions
          WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND finished_at BETWEEN $1 AND $2",
    )
    .bind(since)
    .bind(until)
    .fetch_one(&mut *db)
    .await?;
    Ok(ExecutionFigures {
        total: by_status.iter().map(|(_, n)| n).sum(),
        by_status: by_status.into_iter().collect(),
        finished,
        success_rate: ratio(completed, finished),
    })
}

const EXECUTION_DURATIONS: &str = "SELECT extract(epoch FROM finished_at - started_at)::float8 AS d
      FROM executions
     WHERE status = 'COMPLETED' AND started_at IS NOT NULL AND finished_at BETWEEN $1 AND $2";

const TASK_DURATIONS: &str = "SELECT extract(epoch FROM finished_at - started_at)::float8 AS d
      FROM execution_tasks
     WHERE is_leaf AND status = 'completed' AND started_at IS NOT NULL
       AND finished_at BETWEEN $1 AND $2
    UNION ALL
    SELECT extract(epoch FROM finished_at - started_at)::float8
      FROM execution_subtasks
     WHERE status = 'completed' AND started_at IS NOT NULL AND finished_at BETWEEN $1 AND $2";

/// Count, mean and percentiles of the durations `durations` selects (column `d`).
async fn stats(
    db: &mut PgConnection,
    durations: &'static str,
    since: Timestamp,
    until: Timestamp,
) -> Result<DurationStats, Error> {
    let (count, avg, p50, p95): (i64, Option<f64>, Option<f64>, Option<f64>) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*), avg(d),
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY d),
                    percentile_cont(0.95) WITHIN GROUP (ORDER BY d)
               FROM ({durations}) AS durations"
        )))
        .bind(since)
        .bind(until)
        .fetch_one(&mut *db)
        .await?;
    Ok(DurationStats {
        count,
        avg,
        p50,
        p95,
    })
}

async fn errors(
    db: &mut PgConnection,
    since: Timestamp,
    until: Timestamp,
) -> Result<ErrorFigures, Error> {
    let (agent_events, failures, timeouts, retries, gave_up, completes): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE source = 'agent'),
                count(*) FILTER (WHERE event_type = 'task_failed' AND disposition = 'applied'),
                count(*) FILTER (WHERE event_type = 'task_timed_out'),
                count(*) FILTER (WHERE event_type = 'task_retry_scheduled'),
                count(*) FILTER (WHERE event_type = 'task_gave_up'),
                count(*) FILTER (WHERE event_type = 'task_complete' AND disposition = 'applied')
           FROM execution_events WHERE recorded_at BETWEEN $1 AND $2",
    )
    .bind(since)
    .bind(until)
    .fetch_one(&mut *db)
    .await?;
    let rejected: Vec<(String, i64)> = sqlx::query_as(
        "SELECT split_part(reason, ':', 1), count(*) FROM execution_events
          WHERE disposition = 'rejected' AND recorded_at BETWEEN $1 AND $2
          GROUP BY 1",
    )
    .bind(since)
    .bind(until)
    .fetch_all(&mut *db)
    .await?;
    let dead_letters: i64 =
        sqlx::query_scalar("SELECT count(*) FROM dead_letters WHERE received_at BETWEEN $1 AND $2")
            .bind(since)
            .bind(until)
            .fetch_one(&mut *db)
            .await?;
    let rejected_total: i64 = rejected.iter().map(|(_, n)| n).sum();
    Ok(ErrorFigures {
        agent_events,
        rejected_events: rejected.into_iter().collect::<BTreeMap<_, _>>(),
        rejection_rate: ratio(rejected_total, agent_events),
        dead_letters,
        task_failures: failures,
        timeouts,
        retries,
        gave_up,
        task_error_rate: ratio(failures + timeouts, failures + timeouts + completes),
    })
}

/// Agents holding a task now, from either table of leaves, through the executions in flight
/// (`IN_FLIGHT_STATUSES`, bound as `$1`).
const BUSY_AGENTS: &str = "SELECT count(DISTINCT agent) FROM (
        SELECT t.assigned_agent_id AS agent FROM executions e
          JOIN execution_tasks t ON t.execution_id = e.id
         WHERE e.status = ANY($1)
           AND t.status IN ('dispatched', 'running')
        UNION ALL
        SELECT s.assigned_agent_id FROM executions e
          JOIN execution_subtasks s ON s.execution_id = e.id
         WHERE e.status = ANY($1)
           AND s.status IN ('dispatched', 'running')
    ) AS holders WHERE agent IS NOT NULL";

async fn agents(
    db: &mut PgConnection,
    since: Timestamp,
    until: Timestamp,
) -> Result<AgentFigures, Error> {
    let (total, online, offline): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE status = 'online'),
                count(*) FILTER (WHERE status = 'offline') FROM agents",
    )
    .fetch_one(&mut *db)
    .await?;
    let busy: i64 = sqlx::query_scalar(BUSY_AGENTS)
        .bind(&IN_FLIGHT_STATUSES[..])
        .fetch_one(&mut *db)
        .await?;
    let rows: Vec<(Id, String, String, i64, i64)> = sqlx::query_as(
        "SELECT a.id, a.name, a.status,
                count(e.id) FILTER (WHERE e.event_type = 'task_complete'),
                count(e.id) FILTER (WHERE e.event_type = 'task_failed')
           FROM agents a
           LEFT JOIN execution_events e
             ON e.agent_id = a.id AND e.disposition = 'applied'
            AND e.event_type IN ('task_complete', 'task_failed')
            AND e.recorded_at BETWEEN $1 AND $2
          GROUP BY a.id
          ORDER BY a.created_at, a.id",
    )
    .bind(since)
    .bind(until)
    .fetch_all(&mut *db)
    .await?;
    Ok(AgentFigures {
        total,
        online,
        offline,
        busy,
        per_agent: rows
            .into_iter()
            .map(
                |(agent_id, name, status, completed, failed)| AgentActivity {
                    agent_id,
                    name,
                    status,
                    completed,
                    failed,
                },
            )
            .collect(),
    })
}

type ErrorRow = (
    Timestamp,
    Id,
    Option<Id>,
    Option<Id>,
    String,
    Option<String>,
);

async fn recent_errors(
    db: &mut PgConnection,
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<RecentError>, Error> {
    let rows: Vec<ErrorRow> = sqlx::query_as(
        "SELECT recorded_at, execution_id, task_id, agent_id, event_type,
                COALESCE(reason, output->>'error')
           FROM execution_events
          WHERE recorded_at BETWEEN $1 AND $2
            AND (disposition = 'rejected'
                 OR event_type IN ('task_failed', 'task_timed_out', 'task_gave_up'))
          ORDER BY recorded_at DESC, seq DESC
          LIMIT $3",
    )
    .bind(since)
    .bind(until)
    .bind(RECENT_ERRORS)
    .fetch_all(&mut *db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(at, execution_id, task_id, agent_id, kind, message)| RecentError {
                at,
                execution_id,
                task_id,
                agent_id,
                kind,
                message,
            },
        )
        .collect())
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// What the coordinator's gauges show, now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    /// Executions by status (every status, zero when none).
    pub executions: Vec<(String, i64)>,
    /// Agents by status.
    pub agents: Vec<(String, i64)>,
    /// Agents holding a task.
    pub busy_agents: i64,
    /// Dispatches committed whose publication JetStream has not confirmed.
    pub unconfirmed_dispatches: i64,
}

/// The gauges' figures, in a few index-backed counts.
pub async fn gauges(db: &mut PgConnection) -> Result<Gauges, Error> {
    let executions: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.status, count(e.id)
           FROM UNNEST(ARRAY['CREATED', 'QUEUED', 'RUNNING', 'PAUSED', 'BLOCKED', 'NEEDS_REVIEW',
                             'COMPLETED', 'FAILED', 'CANCELLED']) AS s(status)
           LEFT JOIN executions e ON e.status = s.status
          GROUP BY s.status",
    )
    .fetch_all(&mut *db)
    .await?;
    let agents: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.status, count(a.id)
           FROM UNNEST(ARRAY['online', 'offline']) AS s(status)
           LEFT JOIN agents a ON a.status = s.status
          GROUP BY s.status",
    )
    .fetch_all(&mut *db)
    .await?;
    let busy_agents: i64 = sqlx::query_scalar(BUSY_AGENTS)
        .bind(&IN_FLIGHT_STATUSES[..])
        .fetch_one(&mut *db)
        .await?;
    let unconfirmed_dispatches: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM execution_tasks
                  WHERE status = 'dispatched' AND published_at IS NULL)
              + (SELECT count(*) FROM execution_subtasks
                  WHERE status = 'dispatched' AND published_at IS NULL)",
    )
    .fetch_one(&mut *db)
    .await?;
    Ok(Gauges {
        executions,
        agents,
        busy_agents,
        unconfirmed_dispatches,
    })
}
