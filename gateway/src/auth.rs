//! Who is calling: the operator (the operator token) or an agent (its own token).
//!
//! Tokens travel as `Authorization: Bearer <token>` (or, from Conductor SDKs, `X-Authorization:
//! <token>`). The operator token is compared in constant
//! time; an agent token names its agent (`pxa_<id>_<secret>`) and its SHA-256 is compared in
//! constant time with the stored hash. A missing or wrong token is a 401; a valid token that
//! may not do what it asks (another agent's work, an operator route) is a 403.

use aide::OperationInput;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use planexec_schemas::Id;
use planexec_schemas::agent::token;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// The caller proved to be the operator.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

/// The caller proved to be this agent.
#[derive(Debug, Clone, Copy)]
pub struct AgentCaller(pub Id);

/// The operator or an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Operator,
    Agent(Id),
}

impl OperationInput for Operator {}
impl OperationInput for AgentCaller {}
impl OperationInput for Caller {}

/// A new agent token and the hash to store.
pub fn mint(agent: Id) -> (String, String) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = token::format(agent, &hex::encode(secret));
    let hash = hash(&token);
    (token, hash)
}

/// Hex SHA-256 of a token, as stored.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Conductor's SDKs send the token `POST /api/token` gave them as `X-Authorization: <token>`.
const CONDUCTOR_AUTHORIZATION: &str = "x-authorization";

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    if parts.headers.get(AUTHORIZATION).is_none()
        && let Some(value) = parts.headers.get(CONDUCTOR_AUTHORIZATION)
    {
        let value = value
            .to_str()
            .map_err(|_| ApiError::Unauthorized("the X-Authorization header is not text".into()))?;
        let token = value.strip_prefix("Bearer ").unwrap_or(value).trim();
        if token.is_empty() {
            return Err(ApiError::Unauthorized(
                "the X-Authorization token is empty".into(),
            ));
        }
        return Ok(token);
    }
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized("send the token as `Authorization: Bearer <token>`".into())
    })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })?
        .trim();
    if token.is_empty() {
        return Err(ApiError::Unauthorized("the bearer token is empty".into()));
    }
    Ok(token)
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

async fn identify(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let token = bearer(parts)?;
    if equal(token.as_bytes(), state.operator_token().as_bytes()) {
        return Ok(Caller::Operator);
    }
    let invalid = || ApiError::Unauthorized("the token is not valid".into());
    let agent = token::agent_of(token).ok_or_else(invalid)?;
    let stored = state.token_hash(agent).await?.ok_or_else(invalid)?;
    if equal(hash(token).as_bytes(), stored.as_bytes()) {
        Ok(Caller::Agent(agent))
    } else {
        Err(invalid())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        identify(parts, state).await
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match identify(parts, state).await? {
            Caller::Operator => Ok(Operator),
            Caller::Agent(_) => Err(ApiError::Forbidden(
                "this route needs the operator token".into(),
            )),
        }
    }
}

impl FromRequestParts<AppState> for AgentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match identify(parts, state).await? {
            Caller::Agent(agent) => Ok(AgentCaller(agent)),
            Caller::Operator => Err(ApiError::Forbidden(
                "this route needs an agent's own token".into(),
            )),
        }
    }
}

impl AgentCaller {
    /// The caller must be `agent` itself.
    pub fn must_be(self, agent: Id) -> Result<Id, ApiError> {
        if self.0 == agent {
            Ok(agent)
        } else {
            Err(ApiError::Forbidden(format!(
                "an agent may only act for itself, not for agent {agent}"
            )))
        }
    }
}
