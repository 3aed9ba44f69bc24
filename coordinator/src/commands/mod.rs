//! Commands: NATS request/reply on `planexec.cmd.<verb>`, answered by any coordinator replica
//! (queue group). Each answer is a [`Reply`]: the typed result or a typed [`CommandError`].
//!
//! Only the coordinator writes execution state; the gateway and the CLI ask through these. The
//! handlers are split by resource, like the gateway's routes: [`executions`] (create, pause,
//! resume, cancel, reassign, resolve), [`agents`] (register, update, rotate credentials, delete),
//! [`events`] (an agent's report),
//! [`plans`] (approve); `reply` decodes a command and encodes its answer.
//!
//! [`Reply`]: planexec_schemas::command::Reply
//! [`CommandError`]: planexec_schemas::command::CommandError

mod agents;
mod events;
mod executions;
mod plans;
mod reply;

use std::sync::Arc;

use futures::StreamExt;
use planexec_schemas::command::{
    ApprovePlan, Command, CommandError, CreateExecution, DeleteAgent, Reassign, RegisterAgent,
    Reply, ReportEvent, ResolveTask, RotateAgentCredentials, UpdateAgent, UpdateExecutionStatus,
};
use planexec_telemetry::propagate::TraceContext;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::engine::Engine;
use reply::{encode, handle};

/// Subscribes to commands (in the coordinators' queue group); once this returns, commands
/// reach this replica.
pub async fn subscribe(engine: &Engine) -> Result<async_nats::Subscriber, crate::Error> {
    let ns = &engine.options().namespace;
    let subscription = engine
        .nats()
        .queue_subscribe(ns.commands_wildcard(), ns.command_queue_group())
        .await
        .map_err(|e| crate::Error::nats("subscribing to commands", e))?;
    round_trip(engine.nats()).await?;
    Ok(subscription)
}

/// Returns once the server has processed everything this connection sent before: a message to
/// our own inbox comes back only after the subscriptions made before it are registered.
async fn round_trip(nats: &async_nats::Client) -> Result<(), crate::Error> {
    let inbox = nats.new_inbox();
    let mut echo = nats
        .subscribe(inbox.clone())
        .await
        .map_err(|e| crate::Error::nats("checking the connection", e))?;
    nats.publish(inbox, "".into())
        .await
        .map_err(|e| crate::Error::nats("checking the connection", e))?;
    match tokio::time::timeout(std::time::Duration::from_secs(10), echo.next()).await {
        Ok(Some(_)) => Ok(()),
        _ => Err(crate::Error::nats(
            "checking the connection",
            "the server did not echo within 10 s",
        )),
    }
}

/// Answers commands until `shutdown`; commands in progress are finished.
pub async fn serve(
    engine: Engine,
    mut subscription: async_nats::Subscriber,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(engine.options().command_concurrency.max(1)));
    let tasks = tokio_util::task::TaskTracker::new();
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => break,
            message = subscription.next() => message,
        };
        let Some(message) = message else { break };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let engine = engine.clone();
        tasks.spawn(async move {
            let Some(reply) = message.reply.clone() else {
                return;
            };
            let verb = message
                .subject
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_owned();
            let span = tracing::info_span!("command", verb = verb.as_str());
            TraceContext::from_nats(message.headers.as_ref()).parent_of(&span);
            let answer = answer(&engine, &verb, &message.payload)
                .instrument(span)
                .await;
            if let Err(e) = engine.nats().publish(reply, answer.into()).await {
                tracing::warn!(error = %e, verb, "could not send a command's answer");
            }
            drop(permit);
        });
    }
    let _ = subscription.unsubscribe().await;
    tasks.close();
    tasks.wait().await;
}

/// The JSON answer to one command.
pub async fn answer(engine: &Engine, verb: &str, payload: &[u8]) -> Vec<u8> {
    match verb {
        CreateExecution::VERB => handle(payload, |c| executions::create(engine, c)).await,
        UpdateExecutionStatus::VERB => {
            handle(payload, |c| executions::update_status(engine, c)).await
        }
        RegisterAgent::VERB => handle(payload, |c| agents::register(engine, c)).await,
        UpdateAgent::VERB => handle(payload, |c| agents::update(engine, c)).await,
        RotateAgentCredentials::VERB => handle(payload, |c| agents::rotate(engine, c)).await,
        DeleteAgent::VERB => handle(payload, |c| agents::delete(engine, c)).await,
        ReportEvent::VERB => handle(payload, |c| events::report(engine, c)).await,
        Reassign::VERB => handle(payload, |c| executions::reassign(engine, c)).await,
        ApprovePlan::VERB => handle(payload, |c| plans::approve(engine, c)).await,
        ResolveTask::VERB => handle(payload, |c| executions::resolve(engine, c)).await,
        other => encode(&Reply::<()>::Error(CommandError::invalid(
            "verb",
            format!("unknown command {other:?}"),
        ))),
    }
}
