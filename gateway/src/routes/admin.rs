//! The operator's figures: `GET /api/admin/metrics`, computed from the database.

use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use axum::Json;
use axum::extract::State;
use chrono::Utc;
use planexec_schemas::Timestamp;
use planexec_schemas::admin::AdminMetrics;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::auth::Operator;
use crate::docs;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().api_route(
        "/api/admin/metrics",
        get_with(metrics, |op| {
            docs::operator(op, "admin", &[422]).description(
                "Execution success rate, counts by status, average/p50/p95 execution and task durations, \
                 error rates by type, agent stats and the newest errors, over the window from `since` \
                 (default: the last 24 hours) to now.",
            )
        }),
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MetricsQuery {
    /// Start of the window (RFC 3339, e.g. `2026-12-01T00:00:00Z`); 24 hours ago when absent.
    since: Option<Timestamp>,
}

async fn metrics(
    State(state): State<AppState>,
    _: Operator,
    ApiQuery(query): ApiQuery<MetricsQuery>,
) -> Result<Json<AdminMetrics>, ApiError> {
    let until = Utc::now();
    let since = query.since.unwrap_or(until - chrono::Duration::hours(24));
    if since > until {
        return Err(ApiError::field("since", "must not be in the future"));
    }
    // One snapshot, so that the figures agree with each other.
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
    let report = planexec_store::metrics::report(&mut tx, since, until).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(Json(report))
}
