//! `POST /api/token`: Conductor's key pair login. The key id is the agent's id and the key
//! secret its token; the answer is the token the SDKs then send as `X-Authorization` (the
//! agent token itself: planexec has no session tokens to expire).

use aide::axum::ApiRouter;
use aide::axum::routing::post_with;
use axum::Json;
use axum::extract::State;
use planexec_schemas::Id;
use planexec_schemas::agent::token;
use planexec_schemas::api::{ConductorToken, ConductorTokenRequest};
use subtle::ConstantTimeEq;

use crate::auth::hash;
use crate::docs;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().api_route(
        "/api/token",
        post_with(login, |op| {
            docs::problems(op.tag("conductor"), &[400, 401, 413, 415, 422, 500, 503])
                .description(
                    "Conductor-style login: `keyId` is the agent's id, `keySecret` its token. Answers the token to send \
                     as `X-Authorization` (or `Authorization: Bearer`).",
                )
        }),
    )
}

async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ConductorTokenRequest>,
) -> Result<Json<ConductorToken>, ApiError> {
    let invalid =
        || ApiError::Unauthorized("keyId and keySecret are not an agent's id and token".into());
    let agent = token::agent_of(&request.key_secret).ok_or_else(invalid)?;
    let named: Id = request.key_id.trim().parse().map_err(|_| invalid())?;
    if named != agent {
        return Err(invalid());
    }
    let stored = state.token_hash(agent).await?.ok_or_else(invalid)?;
    let given = hash(&request.key_secret);
    if !bool::from(given.as_bytes().ct_eq(stored.as_bytes())) {
        return Err(invalid());
    }
    Ok(Json(ConductorToken {
        token: request.key_secret,
    }))
}
