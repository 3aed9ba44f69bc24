//! Agents: registering one (its queue first, then its row, then its NATS credentials), changing
//! it, rotating its credentials, deleting it. Executions whose routing the change affects are
//! looked at again.

use planexec_schemas::agent::Agent;
use planexec_schemas::api::RegisterAgentRequest;
use planexec_schemas::command::{
    AgentRegistration, CommandError, DeleteAgent, RegisterAgent, RotateAgentCredentials,
    UpdateAgent,
};
use planexec_schemas::validate::{FieldError, Validate};
use planexec_schemas::{Id, new_id};
use planexec_store::agents;
use planexec_store::executions::schedule;

use super::reply::internal;
use crate::engine::Engine;

/// Registers an agent under a new id; an id already registered is a conflict.
pub(super) async fn register(
    engine: &Engine,
    c: RegisterAgent,
) -> Result<AgentRegistration, CommandError> {
    let request = RegisterAgentRequest {
        name: c.name,
        role: c.role,
        capabilities: c.capabilities,
    };
    let mut errors = Vec::new();
    request.check(&mut errors);
    check_token_hash(&c.token_hash, &mut errors);
    if !errors.is_empty() {
        return Err(CommandError::Invalid { errors });
    }
    let id = c.id.unwrap_or_else(new_id);
    if agents::get(engine.pool(), id)
        .await
        .map_err(internal)?
        .is_some()
    {
        return Err(conflict(id));
    }
    // The consumer first: an agent row without its queue could never receive a task.
    crate::streams::agent_consumer(engine.jetstream(), engine.options(), id)
        .await
        .map_err(internal)?;
    let credentials = mint(engine, id)?;
    let role = if request.role.trim().is_empty() {
        "assistant".to_owned()
    } else {
        request.role
    };
    let agent = agents::insert(
        engine.pool(),
        id,
        &request.name,
        &role,
        &request.capabilities,
        &c.token_hash,
        credentials.as_ref().map(|c| c.user_key.as_str()),
    )
    .await
    .map_err(store_error)?;
    routing_changed(engine, id);
    Ok(AgentRegistration {
        agent,
        nats_credentials: credentials.map(|c| c.creds),
    })
}

/// Changes an agent's name, role or capabilities.
pub(super) async fn update(engine: &Engine, c: UpdateAgent) -> Result<Agent, CommandError> {
    let current = agents::get(engine.pool(), c.agent_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| CommandError::not_found("agent", c.agent_id))?;
    let changed = RegisterAgentRequest {
        name: c.name.clone().unwrap_or(current.name),
        role: c.role.clone().unwrap_or(current.role),
        capabilities: c.capabilities.clone().unwrap_or(current.capabilities),
    };
    let mut errors = Vec::new();
    changed.check(&mut errors);
    if !errors.is_empty() {
        return Err(CommandError::Invalid { errors });
    }
    let agent = agents::update(
        engine.pool(),
        c.agent_id,
        c.name.as_deref(),
        c.role.as_deref(),
        c.capabilities.as_deref(),
    )
    .await
    .map_err(store_error)?;
    routing_changed(engine, c.agent_id);
    Ok(agent)
}

/// A new token (its hash) and new NATS credentials; the old NATS user is revoked at once.
pub(super) async fn rotate(
    engine: &Engine,
    c: RotateAgentCredentials,
) -> Result<AgentRegistration, CommandError> {
    let mut errors = Vec::new();
    check_token_hash(&c.token_hash, &mut errors);
    if !errors.is_empty() {
        return Err(CommandError::Invalid { errors });
    }
    let credentials = mint(engine, c.agent_id)?;
    let mut tx = engine.pool().begin().await.map_err(internal)?;
    let rotated = agents::rotate(
        &mut tx,
        c.agent_id,
        &c.token_hash,
        credentials.as_ref().map(|c| c.user_key.as_str()),
    )
    .await
    .map_err(store_error)?;
    tx.commit().await.map_err(internal)?;
    push_revocations(engine).await;
    Ok(AgentRegistration {
        agent: rotated.agent,
        nats_credentials: credentials.map(|c| c.creds),
    })
}

/// Deletes an agent: its token and NATS user stop working and its queue goes.
pub(super) async fn delete(engine: &Engine, c: DeleteAgent) -> Result<(), CommandError> {
    let mut tx = engine.pool().begin().await.map_err(internal)?;
    agents::delete(&mut tx, c.agent_id)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(internal)?;
    push_revocations(engine).await;
    let ns = &engine.options().namespace;
    if let Ok(stream) = engine.jetstream().get_stream(ns.tasks_stream()).await
        && let Err(e) = stream.delete_consumer(&ns.agent_consumer(c.agent_id)).await
    {
        tracing::warn!(agent = %c.agent_id, error = %e, "the deleted agent's task queue stays");
    }
    routing_changed(engine, c.agent_id);
    Ok(())
}

fn check_token_hash(hash: &str, errors: &mut Vec<FieldError>) {
    if hash.len() != 64 || !hash.chars().all(|ch| ch.is_ascii_hexdigit()) {
        errors.push(FieldError::new(
            "token_hash",
            "must be the hex SHA-256 of the token",
        ));
    }
}

fn mint(
    engine: &Engine,
    agent: Id,
) -> Result<Option<planexec_nats_auth::AgentCredentials>, CommandError> {
    engine
        .auth()
        .map(|auth| auth.mint(&engine.options().namespace, agent))
        .transpose()
        .map_err(internal)
}

/// Revocations reach the NATS servers now; a failure is logged and retried at the next change
/// and at every start-up (the database keeps them).
async fn push_revocations(engine: &Engine) {
    if let Some(auth) = engine.auth()
        && let Err(e) = auth.push_revocations(engine.pool()).await
    {
        tracing::error!(error = %e, "NATS revocations not pushed; retried at the next change or start-up");
    }
}

/// Executions that route to `agent`, or wait for a capability, are looked at again.
fn routing_changed(engine: &Engine, agent: Id) {
    let engine = engine.clone();
    tokio::spawn(async move {
        let affected = schedule::affected_by_agents(engine.pool(), &[agent]).await;
        match affected {
            Ok(affected) if !affected.is_empty() => {
                if let Err(e) = engine.agents_changed(&affected).await {
                    tracing::warn!(error = %e, "re-routing after an agent changed failed");
                }
            }
            Ok(_) => engine.directory().invalidate(),
            Err(e) => tracing::warn!(error = %e, "cannot find executions to re-route"),
        }
    });
}

fn conflict(id: Id) -> CommandError {
    CommandError::Conflict {
        message: format!("an agent with id {id} is already registered"),
    }
}

fn store_error(e: planexec_store::Error) -> CommandError {
    match e {
        planexec_store::Error::Conflict(message) => CommandError::Conflict { message },
        planexec_store::Error::NotFound { what, id } => CommandError::not_found(what, id),
        other => internal(other),
    }
}
