//! Work for agents without NATS: the gateway pulls from the agent's task queue on its behalf.
//!
//! `GET /api/agents/{id}/work?wait=` long-polls the agent's durable consumer for up to `wait`
//! seconds (capped), leases the task it hands out until the agent reports on it (see
//! [`crate::handout`]), and counts the poll as a heartbeat.

use std::time::Duration;

use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use futures::StreamExt;
use planexec_schemas::Id;
use planexec_schemas::task::AgentMessage;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::auth::AgentCaller;
use crate::docs;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::handout;
use crate::responses::MaybeContent;
use crate::routes::agents::AgentPath;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().api_route(
        "/api/agents/{agent_id}/work",
        get_with(poll, |op| {
            docs::agent(op, "work", &[400, 422])
                .description("The agent's next task or cancel (200), or 204 when none came within `wait` seconds.")
        }),
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WorkPollQuery {
    /// Seconds to wait for work (0 answers at once); capped at 30.
    wait: Option<u32>,
}

async fn poll(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: AgentCaller,
    ApiPath(path): ApiPath<AgentPath>,
    ApiQuery(query): ApiQuery<WorkPollQuery>,
) -> Result<MaybeContent<AgentMessage>, ApiError> {
    let agent = caller.must_be(path.agent_id)?;
    state.heartbeat(agent).await;
    let cap = state.options().max_poll_wait;
    let wait = Duration::from_secs(u64::from(query.wait.unwrap_or(0))).min(cap);
    let consumer = state.consumer(agent).await?;
    Ok(
        match take(&state, agent, &consumer, wait, |_| true).await? {
            Some(message) => MaybeContent::Content(message),
            None => MaybeContent::Nothing,
        },
    )
}

/// Takes the next message `agent` may have, waiting up to `wait`. A cancel is acknowledged at
/// once; a task is leased (see [`crate::handout`]) until the agent reports on it. A message
/// `wanted` refuses is handed back at once (negative acknowledgement) for a later poll; a
/// redelivered task whose attempt moved on meanwhile is dropped, and the poll goes on.
pub async fn take(
    state: &AppState,
    agent: Id,
    consumer: &PullConsumer,
    wait: Duration,
    wanted: impl Fn(&AgentMessage) -> bool,
) -> Result<Option<AgentMessage>, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(message) = next_message(consumer, left).await? else {
            return Ok(None);
        };
        let parsed: AgentMessage = match serde_json::from_slice(&message.payload) {
            Ok(parsed) => parsed,
            Err(e) => {
                // Not ours to interpret: drop it rather than hand it out again and again.
                tracing::error!(error = %e, "unreadable message on an agent's task queue; terminated");
                let _ = message.ack_with(AckKind::Term).await;
                continue;
            }
        };
        if !wanted(&parsed) {
            let _ = message.ack_with(AckKind::Nak(None)).await;
            return Ok(None);
        }
        match &parsed {
            AgentMessage::Cancel(_) => {
                message.ack().await.map_err(|e| queue_unavailable(&e))?;
            }
            AgentMessage::Task(task) => {
                let redelivered = message.info().map(|i| i.delivered > 1).unwrap_or(false);
                if redelivered && !handout::still_waiting(state.pool(), task).await? {
                    let _ = message.ack_with(AckKind::Term).await;
                    continue;
                }
                state.handouts().hold(agent, task, message);
            }
        }
        return Ok(Some(parsed));
    }
}

fn queue_unavailable(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("the task queue is not available: {e}"))
}

/// The next message of `consumer` within `wait` (none at once when `wait` is zero).
async fn next_message(
    consumer: &PullConsumer,
    wait: Duration,
) -> Result<Option<async_nats::jetstream::Message>, ApiError> {
    let mut batch = if wait.is_zero() {
        consumer
            .fetch()
            .max_messages(1)
            .messages()
            .await
            .map_err(|e| queue_unavailable(&e))?
    } else {
        consumer
            .batch()
            .max_messages(1)
            .expires(wait)
            .messages()
            .await
            .map_err(|e| queue_unavailable(&e))?
    };
    match batch.next().await {
        None => Ok(None),
        Some(message) => message.map(Some).map_err(|e| queue_unavailable(&e)),
    }
}
