//! Registering an agent: its queue first, then its row; executions waiting for a capability
//! are looked at again.

use planexec_schemas::agent::Agent;
use planexec_schemas::api::RegisterAgentRequest;
use planexec_schemas::command::{CommandError, RegisterAgent};
use planexec_schemas::new_id;
use planexec_schemas::validate::{FieldError, Validate};
use planexec_store::agents;
use planexec_store::executions::schedule;

use super::reply::internal;
use crate::engine::Engine;

/// Registers an agent (or registers it again under the same id).
pub(super) async fn register(engine: &Engine, c: RegisterAgent) -> Result<Agent, CommandError> {
    let request = RegisterAgentRequest {
        name: c.name,
        role: c.role,
        capabilities: c.capabilities,
    };
    let mut errors = Vec::new();
    request.check(&mut errors);
    if c.token_hash.len() != 64 || !c.token_hash.chars().all(|ch| ch.is_ascii_hexdigit()) {
        errors.push(FieldError::new(
            "token_hash",
            "must be the hex SHA-256 of the token",
        ));
    }
    if !errors.is_empty() {
        return Err(CommandError::Invalid { errors });
    }
    let id = c.id.unwrap_or_else(new_id);
    // The consumer first: an agent row without its queue could never receive a task.
    crate::streams::agent_consumer(engine.jetstream(), &engine.options().namespace, id)
        .await
        .map_err(internal)?;
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
    )
    .await
    .map_err(internal)?;
    // A new capability may unblock executions waiting for one.
    let engine = engine.clone();
    tokio::spawn(async move {
        let blocked = schedule::affected_by_agents(engine.pool(), &[id]).await;
        match blocked {
            Ok(blocked) if !blocked.is_empty() => {
                if let Err(e) = engine.agents_changed(&blocked).await {
                    tracing::warn!(error = %e, "re-routing after a registration failed");
                }
            }
            Ok(_) => engine.directory().invalidate(),
            Err(e) => tracing::warn!(error = %e, "cannot find executions to re-route"),
        }
    });
    Ok(agent)
}
