//! The store against a real PostgreSQL: one fresh database per test.

mod agents;
mod archive;
mod events;
mod executions;
mod migrations;
mod plans;

use planexec_harness::TestEnv;
use sqlx::PgPool;

/// A fresh, migrated database.
async fn migrated() -> (TestEnv, PgPool) {
    let env = TestEnv::start().await;
    let pool = env.pool().await;
    planexec_store::migrate(&pool)
        .await
        .expect("migrations apply");
    (env, pool)
}
