//! Agents: registration, token hashes, liveness.
//!
//! Liveness is flushed in batches by the coordinator ([`record_signs_of_life`]) from what it
//! saw in memory; nothing writes a row per heartbeat.

use planexec_schemas::agent::{Agent, AgentStatus};
use planexec_schemas::{Id, Timestamp};
use sqlx::{PgExecutor, PgPool};

use crate::Error;

#[derive(sqlx::FromRow)]
struct AgentRow {
    id: Id,
    name: String,
    role: String,
    capabilities: Vec<String>,
    status: String,
    last_heartbeat: Option<Timestamp>,
    created_at: Timestamp,
}

impl TryFrom<AgentRow> for Agent {
    type Error = Error;

    fn try_from(row: AgentRow) -> Result<Self, Error> {
        Ok(Agent {
            id: row.id,
            name: row.name,
            role: row.role,
            capabilities: row.capabilities,
            status: AgentStatus::parse(&row.status)
                .ok_or_else(|| Error::corrupt("agents", format!("status {:?}", row.status)))?,
            last_heartbeat: row.last_heartbeat,
            created_at: row.created_at,
        })
    }
}

const COLUMNS: &str = "id, name, role, capabilities, status, last_heartbeat, created_at";

/// Registers an agent; it counts as online from now.
pub async fn insert(
    db: impl PgExecutor<'_>,
    id: Id,
    name: &str,
    role: &str,
    capabilities: &[String],
    token_hash: &str,
) -> Result<Agent, Error> {
    let row: AgentRow = sqlx::query_as(
        "INSERT INTO agents (id, name, role, capabilities, status, last_heartbeat, token_hash)
         VALUES ($1, $2, $3, $4, 'online', now(), $5)
         RETURNING id, name, role, capabilities, status, last_heartbeat, created_at",
    )
    .bind(id)
    .bind(name)
    .bind(role)
    .bind(capabilities)
    .bind(token_hash)
    .fetch_one(db)
    .await?;
    row.try_into()
}

pub async fn get(db: impl PgExecutor<'_>, id: Id) -> Result<Option<Agent>, Error> {
    let row: Option<AgentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM agents WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?;
    row.map(Agent::try_from).transpose()
}

/// Every agent, or those with `status`, oldest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    status: Option<AgentStatus>,
) -> Result<Vec<Agent>, Error> {
    let rows: Vec<AgentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM agents WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at, id"
    )))
    .bind(status.map(AgentStatus::as_str))
    .fetch_all(db)
    .await?;
    rows.into_iter().map(Agent::try_from).collect()
}

/// The stored SHA-256 hash (hex) of an agent's token.
pub async fn token_hash(db: impl PgExecutor<'_>, id: Id) -> Result<Option<String>, Error> {
    Ok(
        sqlx::query_scalar("SELECT token_hash FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

/// What routing needs of every agent: `(id, online, capabilities)`.
pub async fn directory(db: impl PgExecutor<'_>) -> Result<Vec<(Id, bool, Vec<String>)>, Error> {
    let rows: Vec<(Id, String, Vec<String>)> =
        sqlx::query_as("SELECT id, status, capabilities FROM agents")
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, status, caps)| (id, status == "online", caps))
        .collect())
}

/// Flushes the newest sign of life of each agent; returns the agents that were offline and
/// are online again. The rows are locked FOR NO KEY UPDATE: every dispatch takes KEY SHARE on
/// its agent's row (the foreign key of `assigned_agent_id`), and a FOR UPDATE here would stall
/// every transaction queued behind the flush.
pub async fn record_signs_of_life(
    pool: &PgPool,
    seen: &[(Id, Timestamp)],
) -> Result<Vec<Id>, Error> {
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, times): (Vec<Id>, Vec<Timestamp>) = seen.iter().copied().unzip();
    let back: Vec<Option<Id>> = sqlx::query_scalar(
        "WITH seen AS (SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[]) AS s(id, at)),
              before AS (SELECT a.id, a.status FROM agents a JOIN seen USING (id) FOR NO KEY UPDATE OF a)
         UPDATE agents a
            SET last_heartbeat = GREATEST(a.last_heartbeat, seen.at), status = 'online', updated_at = now()
           FROM seen, before
          WHERE a.id = seen.id AND before.id = a.id
         RETURNING CASE WHEN before.status = 'offline' THEN a.id END",
    )
    .bind(&ids)
    .bind(&times)
    .fetch_all(pool)
    .await?;
    Ok(back.into_iter().flatten().collect())
}

/// Marks offline every online agent silent since before `silent_since`; returns them.
pub async fn sweep_offline(pool: &PgPool, silent_since: Timestamp) -> Result<Vec<Id>, Error> {
    Ok(sqlx::query_scalar(
        "UPDATE agents SET status = 'offline', updated_at = now()
          WHERE status = 'online' AND (last_heartbeat IS NULL OR last_heartbeat < $1)
         RETURNING id",
    )
    .bind(silent_since)
    .fetch_all(pool)
    .await?)
}
