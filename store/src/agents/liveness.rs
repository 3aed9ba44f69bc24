//! Signs of life: the newest per agent, flushed in batches; silent agents swept offline.

use planexec_schemas::{Id, Timestamp};
use sqlx::PgPool;

use crate::Error;

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
              before AS (SELECT a.id, a.status FROM agents a JOIN seen USING (id) WHERE a.deleted_at IS NULL FOR NO KEY UPDATE OF a)
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
          WHERE status = 'online' AND deleted_at IS NULL AND (last_heartbeat IS NULL OR last_heartbeat < $1)
         RETURNING id",
    )
    .bind(silent_since)
    .fetch_all(pool)
    .await?)
}
