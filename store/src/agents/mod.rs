//! Agents: what they are, their tokens and credentials, their liveness.
//!
//! - this module: reading agents (a deleted agent is gone from every read);
//! - `lifecycle`: registering, changing, rotating credentials, deleting;
//! - `liveness`: signs of life, flushed in batches by the coordinator from what it saw in
//!   memory; nothing writes a row per heartbeat.

mod lifecycle;
mod liveness;

pub use lifecycle::{Rotated, delete, insert, revocations, rotate, update};
pub use liveness::{record_signs_of_life, sweep_offline};

use planexec_schemas::agent::{Agent, AgentStatus};
use planexec_schemas::{Id, Timestamp};
use sqlx::PgExecutor;

use crate::Error;

#[derive(sqlx::FromRow)]
pub(crate) struct AgentRow {
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

pub(crate) const COLUMNS: &str = "id, name, role, capabilities, status, last_heartbeat, created_at";

pub async fn get(db: impl PgExecutor<'_>, id: Id) -> Result<Option<Agent>, Error> {
    let row: Option<AgentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM agents WHERE id = $1 AND deleted_at IS NULL"
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
        "SELECT {COLUMNS} FROM agents WHERE deleted_at IS NULL AND ($1::text IS NULL OR status = $1) ORDER BY created_at, id"
    )))
    .bind(status.map(AgentStatus::as_str))
    .fetch_all(db)
    .await?;
    rows.into_iter().map(Agent::try_from).collect()
}

/// The stored SHA-256 hash (hex) of an agent's token.
pub async fn token_hash(db: impl PgExecutor<'_>, id: Id) -> Result<Option<String>, Error> {
    Ok(
        sqlx::query_scalar("SELECT token_hash FROM agents WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

/// What routing needs of every agent: `(id, online, capabilities)`.
pub async fn directory(db: impl PgExecutor<'_>) -> Result<Vec<(Id, bool, Vec<String>)>, Error> {
    let rows: Vec<(Id, String, Vec<String>)> =
        sqlx::query_as("SELECT id, status, capabilities FROM agents WHERE deleted_at IS NULL")
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, status, caps)| (id, status == "online", caps))
        .collect())
}
