//! Webhook subscriptions (operator): create (the answer carries the signing secret, shown once),
//! list, delete, and the deliveries of one with their status.

use aide::axum::ApiRouter;
use aide::axum::routing::{delete_with, get_with, post_with};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use planexec_schemas::webhook::{
    CreateWebhookRequest, CreatedWebhook, DeliveryList, WebhookEvent, WebhookList,
};
use planexec_schemas::{Id, new_id};
use rand::RngCore;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::auth::Operator;
use crate::docs;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::responses::Created;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/api/webhooks",
            post_with(create, |op| {
                docs::operator(op, "webhooks", &[400, 413, 415, 422]).description(
                    "Subscribes a URL to events (execution.blocked, execution.needs_review, execution.completed, \
                     execution.failed, agent.offline, task.retries_exhausted). The answer carries the secret that \
                     signs every delivery (`X-Planexec-Signature: t=<unix>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">`), \
                     shown this once.",
                )
            })
            .get_with(list, |op| docs::operator(op, "webhooks", &[]).description("Every subscription, oldest first (without secrets).")),
        )
        .api_route(
            "/api/webhooks/{webhook_id}",
            delete_with(delete, |op| {
                docs::operator(op, "webhooks", &[400, 404])
                    .description("Deletes a subscription and its deliveries.")
                    .response::<204, ()>()
            }),
        )
        .api_route(
            "/api/webhooks/{webhook_id}/deliveries",
            get_with(deliveries, |op| {
                docs::operator(op, "webhooks", &[400, 404, 422]).description(
                    "A subscription's deliveries, newest first: pending (with the next attempt's time), \
                     delivered or failed, with the attempts made and the last answer or error.",
                )
            }),
        )
}

async fn create(
    State(state): State<AppState>,
    _: Operator,
    ApiJson(request): ApiJson<CreateWebhookRequest>,
) -> Result<Created<CreatedWebhook>, ApiError> {
    let url = url_of(&request.url)?;
    if request.events.is_empty() {
        return Err(ApiError::field(
            "events",
            format!(
                "name at least one event of [{}]",
                WebhookEvent::ALL.map(WebhookEvent::as_str).join(", ")
            ),
        ));
    }
    let mut events = request.events;
    events.dedup();
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("whsec_{}", hex::encode(bytes));
    let webhook =
        planexec_store::webhooks::insert(state.pool(), new_id(), &url, &events, &secret).await?;
    tracing::info!(webhook = %webhook.id, url, "webhook subscribed");
    Ok(Created(CreatedWebhook { webhook, secret }))
}

/// The URL, checked: absolute, http or https, with a host.
fn url_of(text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| ApiError::field("url", "must be an absolute http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || text.len() > 2000 || text.chars().any(char::is_whitespace) {
        return Err(ApiError::field(
            "url",
            "must name a host, hold no spaces and be at most 2000 characters",
        ));
    }
    Ok(text.to_owned())
}

async fn list(State(state): State<AppState>, _: Operator) -> Result<Json<WebhookList>, ApiError> {
    Ok(Json(WebhookList {
        webhooks: planexec_store::webhooks::list(state.pool()).await?,
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
struct WebhookPath {
    webhook_id: Id,
}

async fn delete(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<WebhookPath>,
) -> Result<StatusCode, ApiError> {
    if planexec_store::webhooks::delete(state.pool(), path.webhook_id).await? {
        tracing::info!(webhook = %path.webhook_id, "webhook deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook", path.webhook_id))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    /// At most this many (1 to 500, default 50).
    limit: Option<i64>,
}

async fn deliveries(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<WebhookPath>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be from 1 to 500"));
    }
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    planexec_store::webhooks::deliveries(&mut conn, path.webhook_id, limit)
        .await?
        .map(|deliveries| Json(DeliveryList { deliveries }))
        .ok_or_else(|| ApiError::not_found("webhook", path.webhook_id))
}
