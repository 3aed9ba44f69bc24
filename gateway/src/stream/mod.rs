//! Live views over WebSockets: `WS /api/executions/{execution_id}/stream` (one execution: a
//! snapshot, then every committed change, at least every 5 s) and `WS /api/executions/stream`
//! (status changes of every execution, for the list).
//!
//! - [`hub`]: one NATS subscription per watched execution per gateway, fanned out.
//! - [`message`]: the JSON messages.
//! - [`socket`]: one watcher's connection.
//!
//! Browsers cannot set headers on a WebSocket, so the operator token may also come as
//! `?token=...` or as a subprotocol `bearer.<token>` (next to `planexec`, which the answer
//! selects).

pub mod hub;
pub mod message;
mod socket;

pub use hub::Hub;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use axum::response::Response;
use axum::routing::get;
use planexec_schemas::Id;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;

/// The subprotocol the stream speaks.
pub const PROTOCOL: &str = "planexec";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/executions/stream", get(list))
        .route("/api/executions/{execution_id}/stream", get(execution))
}

#[derive(Debug, Deserialize)]
struct StreamPath {
    execution_id: Id,
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn execution(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
    ApiPath(path): ApiPath<StreamPath>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    operator(&state, &headers, query.token.as_deref())?;
    let id = path.execution_id;
    if planexec_store::executions::read::get(state.pool(), id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("execution", id));
    }
    let upgrade = upgrade.map_err(not_websocket)?;
    let hub = state.streams().clone();
    Ok(upgrade
        .protocols([PROTOCOL])
        .on_upgrade(move |socket| socket::execution(socket, hub, id)))
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    operator(&state, &headers, query.token.as_deref())?;
    let upgrade = upgrade.map_err(not_websocket)?;
    let hub = state.streams().clone();
    Ok(upgrade
        .protocols([PROTOCOL])
        .on_upgrade(move |socket| socket::list(socket, hub)))
}

fn not_websocket(rejection: WebSocketUpgradeRejection) -> ApiError {
    ApiError::BadRequest(format!(
        "this is a WebSocket endpoint (send `Upgrade: websocket`): {rejection}"
    ))
}

/// The operator token, from the Authorization header, `?token=`, or a `bearer.<token>`
/// subprotocol.
fn operator(state: &AppState, headers: &HeaderMap, query: Option<&str>) -> Result<(), ApiError> {
    let header = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let protocol = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("bearer."));
    let Some(token) = header.or(query).or(protocol).map(str::trim) else {
        return Err(ApiError::Unauthorized(
            "send the operator token as `Authorization: Bearer <token>`, `?token=<token>` or the \
             subprotocol `bearer.<token>`"
                .into(),
        ));
    };
    let expected = state.operator_token().as_bytes();
    if token.len() == expected.len() && bool::from(token.as_bytes().ct_eq(expected)) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "the token is not the operator token".into(),
        ))
    }
}
