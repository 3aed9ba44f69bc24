//! An agent's life: registered, changed, its credentials rotated, deleted.
//!
//! A deleted agent keeps its row (executions and their history name it) but is gone from every
//! read; its token no longer authenticates and its NATS user is revoked. Revoked NATS users are
//! kept in `nats_revocations`, which the coordinator pushes to the NATS servers.

use planexec_schemas::agent::Agent;
use planexec_schemas::{Id, Timestamp};
use sqlx::{PgConnection, PgExecutor};

use super::{AgentRow, COLUMNS};
use crate::Error;

/// Registers an agent; it counts as online from now. An id already taken is a conflict.
pub async fn insert(
    db: impl PgExecutor<'_>,
    id: Id,
    name: &str,
    role: &str,
    capabilities: &[String],
    token_hash: &str,
    nats_user_key: Option<&str>,
) -> Result<Agent, Error> {
    let row: Option<AgentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO agents (id, name, role, capabilities, status, last_heartbeat, token_hash, nats_user_key)
         VALUES ($1, $2, $3, $4, 'online', now(), $5, $6)
         ON CONFLICT (id) DO NOTHING
         RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(name)
    .bind(role)
    .bind(capabilities)
    .bind(token_hash)
    .bind(nats_user_key)
    .fetch_optional(db)
    .await?;
    row.ok_or_else(|| Error::Conflict(format!("an agent with id {id} is already registered")))?
        .try_into()
}

/// Changes what is given of an agent's name, role and capabilities.
pub async fn update(
    db: impl PgExecutor<'_>,
    id: Id,
    name: Option<&str>,
    role: Option<&str>,
    capabilities: Option<&[String]>,
) -> Result<Agent, Error> {
    let row: Option<AgentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE agents SET name = COALESCE($2, name), role = COALESCE($3, role),
                capabilities = COALESCE($4, capabilities), updated_at = now()
          WHERE id = $1 AND deleted_at IS NULL
         RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(name)
    .bind(role)
    .bind(capabilities)
    .fetch_optional(db)
    .await?;
    row.ok_or_else(|| not_found(id))?.try_into()
}

/// What a rotation replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotated {
    pub agent: Agent,
    /// The NATS user the agent had, now revoked.
    pub revoked_user: Option<String>,
}

/// Gives the agent a new token (its hash) and NATS user; the old user is revoked.
pub async fn rotate(
    conn: &mut PgConnection,
    id: Id,
    token_hash: &str,
    nats_user_key: Option<&str>,
) -> Result<Rotated, Error> {
    let old: Option<Option<String>> = sqlx::query_scalar(
        "SELECT nats_user_key FROM agents WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let revoked_user = old.ok_or_else(|| not_found(id))?;
    let row: AgentRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE agents SET token_hash = $2, nats_user_key = $3, updated_at = now()
          WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(token_hash)
    .bind(nats_user_key)
    .fetch_one(&mut *conn)
    .await?;
    revoke(&mut *conn, id, revoked_user.as_deref()).await?;
    Ok(Rotated {
        agent: row.try_into()?,
        revoked_user,
    })
}

/// Deletes the agent: gone from every read, its token refused, its NATS user revoked.
/// Returns the revoked user, if it had one.
pub async fn delete(conn: &mut PgConnection, id: Id) -> Result<Option<String>, Error> {
    let user: Option<Option<String>> = sqlx::query_scalar(
        "UPDATE agents SET deleted_at = now(), status = 'offline', token_hash = '', updated_at = now()
          WHERE id = $1 AND deleted_at IS NULL
         RETURNING nats_user_key",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let user = user.ok_or_else(|| not_found(id))?;
    revoke(&mut *conn, id, user.as_deref()).await?;
    Ok(user)
}

/// Every revoked NATS user and when it was revoked.
pub async fn revocations(db: impl PgExecutor<'_>) -> Result<Vec<(String, Timestamp)>, Error> {
    Ok(
        sqlx::query_as("SELECT user_key, revoked_at FROM nats_revocations ORDER BY revoked_at")
            .fetch_all(db)
            .await?,
    )
}

async fn revoke(conn: &mut PgConnection, agent: Id, user: Option<&str>) -> Result<(), Error> {
    if let Some(user) = user {
        sqlx::query(
            "INSERT INTO nats_revocations (user_key, agent_id) VALUES ($1, $2)
             ON CONFLICT (user_key) DO NOTHING",
        )
        .bind(user)
        .bind(agent)
        .execute(conn)
        .await?;
    }
    Ok(())
}

fn not_found(id: Id) -> Error {
    Error::NotFound {
        what: "agent",
        id: id.to_string(),
    }
}
