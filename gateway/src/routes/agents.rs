//! Agents: registration (operator), listing, and an agent's own view of itself.

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use planexec_schemas::agent::{Agent, AgentStatus};
use planexec_schemas::api::{
    AgentList, HeartbeatRequest, RegisterAgentRequest, RegisteredAgent, UpdateAgentRequest,
};
use planexec_schemas::command::{DeleteAgent, RegisterAgent, RotateAgentCredentials, UpdateAgent};
use planexec_schemas::validate::Validate;
use planexec_schemas::{Id, new_id};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::auth::{AgentCaller, Caller, Operator, mint};
use crate::docs;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};
use crate::responses::Created;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/api/agents",
            post_with(register, |op| {
                docs::operator(op, "agents", &[400, 413, 415, 422])
                    .description("Registers an agent; the answer carries its token, shown this once and stored hashed.")
            })
            .get_with(list, |op| docs::operator(op, "agents", &[422]).description("Agents, optionally by status.")),
        )
        .api_route(
            "/api/agents/{agent_id}",
            get_with(get_one, |op| {
                docs::operator(op, "agents", &[400, 404])
                    .description("One agent: capabilities, status, last heartbeat (operator or the agent itself).")
            })
            .patch_with(update, |op| {
                docs::operator(op, "agents", &[400, 404, 413, 415, 422]).description(
                    "Changes an agent's name, role or capabilities; executions waiting for a capability are routed again.",
                )
            })
            .delete_with(delete, |op| {
                docs::operator(op, "agents", &[400, 404])
                    .description("Deletes an agent: its token and NATS credentials stop working, its task queue goes.")
                    .response::<204, ()>()
            }),
        )
        .api_route(
            "/api/agents/{agent_id}/token",
            post_with(rotate, |op| {
                docs::operator(op, "agents", &[400, 404]).description(
                    "A new token and new NATS credentials for the agent, shown this once; the old ones stop working \
                     (within the gateways' token cache time, 30 s by default).",
                )
            }),
        )
        .api_route(
            "/api/agents/{agent_id}/heartbeat",
            post_with(heartbeat, |op| {
                docs::agent(op, "work", &[400])
                    .description("A sign of life from a busy agent (a poll counts as one too).")
                    .response::<204, ()>()
            }),
        )
}

async fn register(
    State(state): State<AppState>,
    _: Operator,
    ApiJson(request): ApiJson<RegisterAgentRequest>,
) -> Result<Created<RegisteredAgent>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let id = new_id();
    let (token, token_hash) = mint(id);
    let registration = state
        .coordinator()
        .call(&RegisterAgent {
            id: Some(id),
            name: request.name,
            role: request.role,
            capabilities: request.capabilities,
            token_hash,
        })
        .await?;
    Ok(Created(RegisteredAgent {
        agent: registration.agent,
        token,
        nats_credentials: registration.nats_credentials,
    }))
}

async fn update(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<AgentPath>,
    ApiJson(request): ApiJson<UpdateAgentRequest>,
) -> Result<Json<Agent>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let agent = state
        .coordinator()
        .call(&UpdateAgent {
            agent_id: path.agent_id,
            name: request.name,
            role: request.role,
            capabilities: request.capabilities,
        })
        .await?;
    Ok(Json(agent))
}

async fn rotate(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<AgentPath>,
) -> Result<Json<RegisteredAgent>, ApiError> {
    let (token, token_hash) = mint(path.agent_id);
    let registration = state
        .coordinator()
        .call(&RotateAgentCredentials {
            agent_id: path.agent_id,
            token_hash,
        })
        .await?;
    state.forget_token(path.agent_id);
    Ok(Json(RegisteredAgent {
        agent: registration.agent,
        token,
        nats_credentials: registration.nats_credentials,
    }))
}

async fn delete(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<AgentPath>,
) -> Result<StatusCode, ApiError> {
    state
        .coordinator()
        .call(&DeleteAgent {
            agent_id: path.agent_id,
        })
        .await?;
    state.forget_token(path.agent_id);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AgentListQuery {
    /// `online` or `offline`.
    status: Option<AgentStatus>,
}

async fn list(
    State(state): State<AppState>,
    _: Operator,
    ApiQuery(query): ApiQuery<AgentListQuery>,
) -> Result<Json<AgentList>, ApiError> {
    Ok(Json(AgentList {
        agents: planexec_store::agents::list(state.pool(), query.status).await?,
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct AgentPath {
    pub agent_id: Id,
}

async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AgentPath>,
) -> Result<Json<Agent>, ApiError> {
    if let Caller::Agent(me) = caller {
        AgentCaller(me).must_be(path.agent_id)?;
    }
    planexec_store::agents::get(state.pool(), path.agent_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("agent", path.agent_id))
}

async fn heartbeat(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiPath(path): ApiPath<AgentPath>,
    OptionalJson(body): OptionalJson<HeartbeatRequest>,
) -> Result<StatusCode, ApiError> {
    let agent = caller.must_be(path.agent_id)?;
    match body.and_then(|b| b.in_flight) {
        Some(in_flight) => state.holding(agent, in_flight).await,
        None => state.heartbeat(agent).await,
    }
    Ok(StatusCode::NO_CONTENT)
}
