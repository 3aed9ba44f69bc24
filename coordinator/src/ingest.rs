//! Event ingestion: pull agents' events from JetStream in batches and apply them.
//!
//! Whatever is ready is taken together (up to the batch size), applied in one transaction by the
//! engine, and acknowledged only after the commit. A message that is not an event (bad JSON, a
//! subject that does not name its sender, an invalid field) or that names an unknown execution
//! is recorded as a dead letter with its raw bytes and terminated, so it never blocks the stream.
//! When the transaction fails, the batch is negatively acknowledged and comes back later.

use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::MessagesErrorKind;
use futures::StreamExt;
use planexec_schemas::Id;
use planexec_schemas::event::AgentEvent;
use planexec_schemas::validate::Validate;
use planexec_telemetry::propagate::TraceContext;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, Item, LockMode, Outcome, Work};

/// Pulls and applies events until `shutdown`; batches in progress are finished first.
///
/// Messages are shared out by execution between `ingest_workers` workers, each applying its own
/// batches in stream order: one execution's events stay in order, and transactions of different
/// executions overlap (one transaction at a time leaves the database idle between round trips).
pub async fn run(engine: Engine, consumer: PullConsumer, shutdown: CancellationToken) {
    let batch = engine.options().batch_size.max(1);
    let workers = engine.options().ingest_workers.max(1);
    let mut lanes = Vec::with_capacity(workers);
    let tracker = tokio_util::task::TaskTracker::new();
    for _ in 0..workers {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Message>(batch * 2);
        tracker.spawn(work(engine.clone(), receiver, batch, shutdown.clone()));
        lanes.push(sender);
    }
    tracker.close();
    pull(&engine, &consumer, &lanes, &shutdown).await;
    drop(lanes);
    tracker.wait().await;
}

/// Messages asked of JetStream per pull request, at least, whatever the transaction batch size.
///
/// async-nats 0.51's pull stream loses count of a request when the request's messages arrive
/// before its own bookkeeping of the request does; it then believes a request is outstanding and
/// asks for nothing until the request would have expired (35 s). With requests of one message
/// (`PLANEXE_BATCH_SIZE=1`) this stalled ingestion every few seconds; with larger requests it is
/// rare, and the missed heartbeat below ends it sooner.
const MIN_PULL: usize = 128;

/// JetStream sends this heartbeat while a pull request is outstanding; two missed mean there is
/// none (see `MIN_PULL`), and the stream is started anew.
const PULL_HEARTBEAT: Duration = Duration::from_secs(5);

/// Reads the consumer and hands each message to its execution's lane.
async fn pull(
    engine: &Engine,
    consumer: &PullConsumer,
    lanes: &[tokio::sync::mpsc::Sender<Message>],
    shutdown: &CancellationToken,
) {
    let pull = engine.options().batch_size.max(MIN_PULL);
    while !shutdown.is_cancelled() {
        let messages = consumer
            .stream()
            .max_messages_per_batch(pull)
            .expires(Duration::from_secs(30))
            .heartbeat(PULL_HEARTBEAT)
            .messages()
            .await;
        let mut messages = match messages {
            Ok(messages) => messages,
            Err(e) => {
                tracing::warn!(error = %e, "cannot pull events; retrying in a second");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return,
                message = messages.next() => message,
            };
            match message {
                None => break,
                Some(Ok(message)) => {
                    let lane = &lanes[lane_of(engine, &message.subject, lanes.len())];
                    // A lane may be slow (the database is); stopping must not wait for it.
                    let permit = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        permit = lane.reserve() => permit,
                    };
                    match permit {
                        Ok(permit) => permit.send(message),
                        Err(_) => return,
                    }
                }
                Some(Err(e)) if e.kind() == MessagesErrorKind::MissingHeartbeat => {
                    tracing::info!(
                        "no pull request outstanding for the events consumer; pulling anew"
                    );
                    crate::metrics::pull_restarted();
                    break;
                }
                Some(Err(e)) => tracing::debug!(error = %e, "event stream hiccup"),
            }
        }
    }
}

/// The lane of a message: by its execution, so that one execution's events stay in order.
fn lane_of(engine: &Engine, subject: &str, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    match engine.options().namespace.parse_events_subject(subject) {
        Some((_, execution)) => execution.hash(&mut hasher),
        None => subject.hash(&mut hasher),
    }
    usize::try_from(hasher.finish() % lanes as u64).unwrap_or(0)
}

/// Applies a lane's messages, taking whatever is waiting (up to `batch`) together.
///
/// On shutdown the batch in its transaction is finished; messages still waiting in the lane
/// are handed back to JetStream (negatively acknowledged) for another replica, or for this one
/// when it comes back.
async fn work(
    engine: Engine,
    mut lane: tokio::sync::mpsc::Receiver<Message>,
    batch: usize,
    shutdown: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            first = lane.recv() => match first {
                Some(first) => first,
                None => return,
            },
        };
        let mut messages = vec![first];
        while messages.len() < batch {
            match lane.try_recv() {
                Ok(message) => messages.push(message),
                Err(_) => break,
            }
        }
        apply(&engine, messages).await;
    }
    lane.close();
    while let Ok(message) = lane.try_recv() {
        let _ = message.ack_with(AckKind::Nak(None)).await;
    }
}

/// Applies one batch of messages and acknowledges them.
pub async fn apply(engine: &Engine, messages: Vec<Message>) {
    let mut items = Vec::with_capacity(messages.len());
    let mut carriers = Vec::with_capacity(messages.len());
    for message in messages {
        match parse(engine, &message) {
            Ok((sender, event)) => {
                items.push(Item {
                    execution_id: event.execution_id,
                    work: Work::Agent {
                        sender,
                        event,
                        trace: TraceContext::from_nats(message.headers.as_ref()),
                    },
                });
                carriers.push(message);
            }
            Err(reason) => {
                notify(engine, &message, "invalid_event", &reason).await;
                dead_letter(engine, &message, &reason).await;
            }
        }
    }
    if items.is_empty() {
        return;
    }
    let run = engine.run(&items, LockMode::Wait);
    match in_progress(run, &carriers, engine.options().ack_wait).await {
        Ok(results) => {
            for (message, result) in carriers.iter().zip(results) {
                if result.outcome == Outcome::UnknownExecution {
                    unknown_execution(engine, message).await;
                    continue;
                }
                if let Outcome::Rejected(rejection) = &result.outcome {
                    notify(engine, message, rejection.code(), &rejection.to_string()).await;
                }
                if let Err(e) = message.ack().await {
                    tracing::debug!(error = %e, "ack lost; the redelivery will be recognised as a duplicate");
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, events = carriers.len(), "applying events failed; they will be redelivered");
            for message in &carriers {
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await;
            }
        }
    }
}

/// Awaits `work`, telling JetStream every third of the ack wait that `messages` are still being
/// worked on: a transaction that waits (for a lock, for a slow database) keeps its events, and
/// the ack wait can stay short, which is how soon the events a killed coordinator held go to
/// another replica.
async fn in_progress<T>(
    work: impl std::future::Future<Output = T>,
    messages: &[Message],
    ack_wait: Duration,
) -> T {
    let every = (ack_wait / 3).max(Duration::from_millis(200));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = ticks.tick() => {
                for message in messages {
                    if let Err(e) = message.ack_with(AckKind::Progress).await {
                        tracing::debug!(error = %e, "in-progress notice lost; the event may come again, as a duplicate");
                    }
                }
            }
        }
    }
}

/// How often an event naming an unknown execution is tried again before it is a dead letter,
/// and how long apart: its execution may be committed by another replica a moment later, or
/// this replica may be on the wrong database (which start-up refuses, see `streams`).
const UNKNOWN_EXECUTION_TRIES: i64 = 10;
const UNKNOWN_EXECUTION_PAUSE: Duration = Duration::from_secs(3);

async fn unknown_execution(engine: &Engine, message: &Message) {
    let delivered = message.info().map_or(i64::MAX, |info| info.delivered);
    if delivered < UNKNOWN_EXECUTION_TRIES {
        tracing::info!(subject = %message.subject, delivered, "event for an execution not known (yet); trying again shortly");
        let _ = message
            .ack_with(AckKind::Nak(Some(UNKNOWN_EXECUTION_PAUSE)))
            .await;
        return;
    }
    let reason = format!(
        "event names execution {}, which does not exist (tried {delivered} times)",
        items_execution(message)
    );
    notify(engine, message, "unknown_execution", &reason).await;
    dead_letter(engine, message, &reason).await;
}

/// Tells the agent that published `message` that it was not applied
/// (`<ns>.notices.<agent_id>`, core NATS: best effort).
async fn notify(engine: &Engine, message: &Message, code: &str, reason: &str) {
    let ns = &engine.options().namespace;
    let Some((agent, execution)) = ns.parse_events_subject(&message.subject) else {
        return;
    };
    let event = serde_json::from_slice::<serde_json::Value>(&message.payload).ok();
    let notice = planexec_schemas::notice::RejectionNotice {
        event_id: field(&event, "event_id"),
        execution_id: Some(execution),
        task_id: field(&event, "task_id"),
        attempt: field(&event, "attempt"),
        code: code.to_owned(),
        reason: reason.to_owned(),
        subject: message.subject.to_string(),
        timestamp: chrono::Utc::now(),
    };
    if let Ok(bytes) = serde_json::to_vec(&notice)
        && let Err(e) = engine
            .nats()
            .publish(ns.notices_subject(agent), bytes.into())
            .await
    {
        tracing::debug!(error = %e, "rejection notice not sent");
    }
}

/// A field of a message that may not be an event, when it reads as a `T`.
fn field<T: serde::de::DeserializeOwned>(
    event: &Option<serde_json::Value>,
    name: &str,
) -> Option<T> {
    event
        .as_ref()
        .and_then(|e| e.get(name))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

fn items_execution(message: &Message) -> String {
    serde_json::from_slice::<AgentEvent>(&message.payload)
        .map(|e| e.execution_id.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// An event and the agent the subject proves it came from, or why the message is not one.
fn parse(engine: &Engine, message: &Message) -> Result<(Id, AgentEvent), String> {
    let ns = &engine.options().namespace;
    let (agent, execution) = ns.parse_events_subject(&message.subject).ok_or_else(|| {
        format!(
            "subject {} is not {}.events.<agent_id>.<execution_id>",
            message.subject,
            ns.prefix()
        )
    })?;
    let event: AgentEvent =
        serde_json::from_slice(&message.payload).map_err(|e| format!("not an agent event: {e}"))?;
    if event.execution_id != execution {
        return Err(format!(
            "the subject names execution {execution} but the event names {}",
            event.execution_id
        ));
    }
    if let Err(errors) = event.validate() {
        let parts: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        return Err(format!("invalid event: {}", parts.join("; ")));
    }
    Ok((agent, event))
}

/// Records the message as a dead letter and stops its redelivery.
async fn dead_letter(engine: &Engine, message: &Message, reason: &str) {
    let sequence = message.info().ok().map(|info| info.stream_sequence);
    tracing::warn!(subject = %message.subject, sequence, reason, "dead letter");
    crate::metrics::dead_letter();
    match planexec_store::events::dead_letter(
        engine.pool(),
        &message.subject,
        sequence,
        &message.payload,
        reason,
    )
    .await
    {
        Ok(()) => {
            let _ = message.ack_with(AckKind::Term).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot record a dead letter; it will be redelivered");
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                .await;
        }
    }
}
