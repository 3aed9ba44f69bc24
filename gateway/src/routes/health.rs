//! Liveness and readiness of the gateway itself.

use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use planexec_schemas::api::{Health, Readiness};
use std::time::Duration;

use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/healthz",
            get_with(healthz, |op| {
                op.tag("health").description("The process is up.")
            }),
        )
        .api_route(
            "/readyz",
            get_with(readyz, |op| {
                op.tag("health")
                    .description(
                        "PostgreSQL and NATS are reachable (503 otherwise, within a second).",
                    )
                    .response::<200, Json<Readiness>>()
                    .response::<503, Json<Readiness>>()
            }),
        )
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// How long `/readyz` waits for the database's answer.
const READY_DATABASE_WAIT: Duration = Duration::from_millis(800);

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let breaker = state.breaker();
    let database = !breaker.is_open()
        && tokio::time::timeout(
            READY_DATABASE_WAIT,
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(state.pool()),
        )
        .await
        .is_ok_and(|answer| answer.is_ok());
    if database {
        breaker.succeeded();
    }
    let nats = state.nats().connection_state() == async_nats::connection::State::Connected;
    let status = if database && nats {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Readiness { database, nats }))
}
