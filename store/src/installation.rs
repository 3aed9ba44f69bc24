//! This database's installation id: made once, written on the NATS streams too, so that a
//! replica pointed at a database and streams of different installations refuses to start
//! instead of dead-lettering every event it cannot place.

use planexec_schemas::Id;
use sqlx::PgPool;

use crate::Error;

/// The installation id, made now if the database has none yet.
pub async fn ensure(pool: &PgPool) -> Result<Id, Error> {
    sqlx::query("INSERT INTO installation (id) VALUES ($1) ON CONFLICT ON CONSTRAINT installation_one_row DO NOTHING")
        .bind(planexec_schemas::new_id())
        .execute(pool)
        .await?;
    Ok(sqlx::query_scalar("SELECT id FROM installation")
        .fetch_one(pool)
        .await?)
}
