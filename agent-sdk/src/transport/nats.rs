//! The NATS transport: tasks from the agent's durable pull consumer on `<NS>_TASKS`, events
//! published to JetStream, heartbeats on core NATS.
//!
//! - Tasks: subject `planexec.tasks.<agent_id>`, durable consumer `agent-<agent_id>`, made by
//!   the coordinator when the agent registers. A message is acknowledged when the agent takes
//!   it; one it cannot take yet (every slot busy) is handed back with a delayed NAK, so that
//!   cancels queued behind it still get through.
//! - Events: `planexec.events.<agent_id>.<execution_id>`, JetStream message id = `event_id`,
//!   so a copy re-sent after a reconnect is dropped by the server (and by the coordinator).
//! - Heartbeats: `planexec.heartbeats.<agent_id>`, core NATS, fire and forget.
//!
//! Only nats-server 2.9 features are used (no account query: its answer does not parse on 2.9).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use planexec_schemas::Id;
use planexec_schemas::event::{AgentEvent, Heartbeat};
use planexec_schemas::subjects::Namespace;
use planexec_schemas::task::AgentMessage;
use planexec_telemetry::propagate::TraceContext;

use crate::Error;
use crate::outbox::{Deliver, Delivered};

/// How an agent logs in to NATS: its credentials file and the inbox prefix its permissions
/// allow (`_INBOX_<agent_id>`), or nothing for servers without authentication.
#[derive(Debug, Clone, Default)]
pub struct Login {
    pub creds: Option<std::path::PathBuf>,
    pub inbox_prefix: Option<String>,
}

/// Connects to NATS. Unreachable at first is not an error: the client keeps trying in the
/// background (and reconnects by itself later), and every operation waits or fails meanwhile.
/// Refused credentials are: [`Error::Unauthorised`], at once; refused later (the credentials
/// were revoked) or a subject the agent may not use is logged as an error, once per kind.
pub async fn connect(url: &str, name: &str, login: &Login) -> Result<async_nats::Client, Error> {
    // One server, or a cluster's nodes separated by commas.
    let servers = planexec_schemas::subjects::nats_servers(url);
    let mut options = async_nats::ConnectOptions::new().name(name);
    if let Some(creds) = &login.creds {
        options = options.credentials_file(creds).await.map_err(|e| {
            Error::Options(format!(
                "cannot read the NATS credentials file {}: {e}",
                creds.display()
            ))
        })?;
    }
    if let Some(prefix) = &login.inbox_prefix {
        options = options.custom_inbox_prefix(prefix);
    }
    // A first try without retrying tells refused credentials from a server not up yet.
    match with_events(options.clone(), url)
        .connect(servers.clone())
        .await
    {
        Ok(client) => return Ok(client),
        Err(e)
            if matches!(
                e.kind(),
                async_nats::ConnectErrorKind::AuthorizationViolation
                    | async_nats::ConnectErrorKind::Authentication
            ) =>
        {
            return Err(Error::Unauthorised {
                detail: format!("NATS at {url} refused the agent's credentials: {e}"),
            });
        }
        Err(e) => tracing::info!(%url, error = %e, "NATS not reachable yet; retrying"),
    }
    with_events(options, url)
        .retry_on_initial_connect()
        .connect(servers)
        .await
        .map_err(|e| Error::unreachable(format!("NATS at {url}"), e))
}

fn with_events(options: async_nats::ConnectOptions, url: &str) -> async_nats::ConnectOptions {
    let url = std::sync::Arc::new(url.to_owned());
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    options.event_callback(move |event| {
        let url = url.clone();
        let refused = refused.clone();
        async move {
            use std::sync::atomic::Ordering;
            match event {
                async_nats::Event::Connected => {
                    refused.store(false, Ordering::Relaxed);
                    tracing::info!(url = %url, "connected to NATS")
                }
                async_nats::Event::Disconnected => {
                    tracing::warn!(url = %url, "disconnected from NATS; reconnecting")
                }
                async_nats::Event::ServerError(async_nats::ServerError::AuthorizationViolation) => {
                    if !refused.swap(true, Ordering::Relaxed) {
                        tracing::error!(url = %url, "NATS refused the agent's credentials (revoked or rotated?); register again or use the new credentials");
                    }
                }
                async_nats::Event::ServerError(e) => {
                    tracing::error!(url = %url, error = %e, "NATS refused an operation of the agent")
                }
                other => tracing::debug!(url = %url, event = %other, "NATS event"),
            }
        }
    })
}

/// One agent's view of NATS.
#[derive(Debug, Clone)]
pub(crate) struct NatsLink {
    client: async_nats::Client,
    js: jetstream::Context,
    ns: Namespace,
    agent_id: Id,
    traces: Traces,
}

/// The trace context each task arrived with, by (task, attempt): its events carry it back, so
/// that the coordinator's spans of them join the dispatch's trace. Empty unless the
/// coordinator exports traces.
#[derive(Debug, Clone, Default)]
struct Traces(Arc<Mutex<HashMap<(Id, u32), TraceContext>>>);

impl Traces {
    /// Most attempts remembered; a cancelled attempt sends no final event to forget it by.
    const MAX: usize = 4096;

    fn remember(&self, message: &AgentMessage, headers: Option<&async_nats::HeaderMap>) {
        let AgentMessage::Task(task) = message else {
            return;
        };
        let trace = TraceContext::from_nats(headers);
        if trace.is_empty() {
            return;
        }
        if let Ok(mut traces) = self.0.lock() {
            if traces.len() >= Self::MAX {
                traces.clear();
            }
            traces.insert((task.task_id, task.attempt), trace);
        }
    }

    /// The trace of `event`'s attempt; forgotten after the attempt's last event.
    fn of(&self, event: &AgentEvent) -> TraceContext {
        let key = (event.task_id, event.attempt);
        let Ok(mut traces) = self.0.lock() else {
            return TraceContext::default();
        };
        match event.body.event_type().ends_attempt() {
            true => traces.remove(&key),
            false => traces.get(&key).cloned(),
        }
        .unwrap_or_default()
    }
}

/// One message taken from the queue, with the means to acknowledge it.
#[derive(Debug)]
pub(crate) struct Received {
    pub message: Result<AgentMessage, Error>,
    raw: jetstream::Message,
}

impl Received {
    /// Takes the message off the queue for good.
    pub async fn ack(&self) -> Result<(), Error> {
        self.raw
            .ack()
            .await
            .map_err(|e| Error::nats("acknowledging a task", e))
    }

    /// Hands it back, to be delivered again after a short delay that grows with each return
    /// (100 ms a time, at most a second): a busy agent looks again soon, so the tasks queued for
    /// it wait for a free slot, not for a long back-off.
    pub async fn decline(&self, max_delay: Duration) {
        let returns = self.raw.info().map(|i| i.delivered.max(1)).unwrap_or(1);
        let delay =
            Duration::from_millis(100u64.saturating_mul(u64::try_from(returns).unwrap_or(1)))
                .min(Duration::from_secs(1))
                .min(max_delay);
        if let Err(e) = self.raw.ack_with(AckKind::Nak(Some(delay))).await {
            tracing::debug!(error = %e, "could not hand a task back; it returns after the ack wait");
        }
    }

    /// Drops a message that is not ours to understand, so that it never comes back.
    pub async fn discard(&self) {
        let _ = self.raw.ack_with(AckKind::Term).await;
    }
}

/// The messages of one pull request.
pub(crate) struct Fetched {
    batch: async_nats::jetstream::consumer::pull::Batch,
    traces: Traces,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched").finish_non_exhaustive()
    }
}

impl Fetched {
    /// The next message, `None` when the request is done (all came, or `wait` passed).
    pub async fn next(&mut self) -> Option<Result<Received, Error>> {
        let raw = match self.batch.next().await? {
            Ok(raw) => raw,
            Err(e) => return Some(Err(Error::nats("receiving tasks", e))),
        };
        let message = serde_json::from_slice::<AgentMessage>(&raw.payload).map_err(|e| {
            Error::InvalidMessage {
                message: format!("{e} (subject {})", raw.subject),
            }
        });
        if let Ok(message) = &message {
            self.traces.remember(message, raw.headers.as_ref());
        }
        Some(Ok(Received { message, raw }))
    }
}

impl NatsLink {
    /// `publish_timeout` bounds the wait for each JetStream confirmation.
    pub fn new(
        client: async_nats::Client,
        ns: Namespace,
        agent_id: Id,
        publish_timeout: Duration,
    ) -> Self {
        let js = jetstream::ContextBuilder::new()
            .timeout(publish_timeout)
            .build(client.clone());
        Self {
            client,
            js,
            ns,
            agent_id,
            traces: Traces::default(),
        }
    }

    /// The agent's task consumer; it exists once the agent is registered.
    pub async fn consumer(&self) -> Result<PullConsumer, Error> {
        let name = self.ns.agent_consumer(self.agent_id);
        self.js
            .get_consumer_from_stream(&name, self.ns.tasks_stream())
            .await
            .map_err(|e| {
                use async_nats::jetstream::stream::ConsumerErrorKind;
                match e.kind() {
                    ConsumerErrorKind::JetStream(js)
                        if js.error_code()
                            == async_nats::jetstream::ErrorCode::CONSUMER_NOT_FOUND =>
                    {
                        Error::UnknownAgent {
                            agent_id: self.agent_id,
                            detail: format!(
                                "no consumer {name} on stream {}",
                                self.ns.tasks_stream()
                            ),
                        }
                    }
                    _ => Error::nats(format!("opening the consumer {name}"), e),
                }
            })
    }

    /// Asks for at most `max` messages, arriving within `wait`; read them with
    /// [`Fetched::next`] as they come.
    pub async fn fetch(
        &self,
        consumer: &PullConsumer,
        max: usize,
        wait: Duration,
    ) -> Result<Fetched, Error> {
        let batch = consumer
            .batch()
            .max_messages(max.max(1))
            .expires(wait)
            .messages()
            .await
            .map_err(|e| Error::nats("asking for tasks", e))?;
        Ok(Fetched {
            batch,
            traces: self.traces.clone(),
        })
    }

    /// Hands every rejection notice for this agent to `observer` (and the log) until `stop`.
    pub async fn notices(
        &self,
        observer: std::sync::Arc<dyn crate::Observer>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let subject = self.ns.notices_subject(self.agent_id);
        let mut notices = match self.client.subscribe(subject.clone()).await {
            Ok(subscription) => subscription,
            Err(e) => {
                tracing::warn!(%subject, error = %e, "cannot listen for rejection notices");
                return;
            }
        };
        loop {
            let message = tokio::select! {
                _ = stop.cancelled() => return,
                message = notices.next() => match message {
                    Some(message) => message,
                    None => return,
                },
            };
            match serde_json::from_slice::<planexec_schemas::notice::RejectionNotice>(
                &message.payload,
            ) {
                Ok(notice) => {
                    tracing::warn!(event = ?notice.event_id, task = ?notice.task_id, code = %notice.code,
                        reason = %notice.reason, "the coordinator rejected an event");
                    observer.rejected(&notice);
                }
                Err(e) => tracing::debug!(error = %e, "unreadable rejection notice"),
            }
        }
    }

    /// Publishes a sign of life (core NATS: lost while disconnected, which is fine).
    pub async fn heartbeat(&self, in_flight: u32) -> Result<(), Error> {
        let beat = Heartbeat {
            agent_id: self.agent_id,
            timestamp: chrono::Utc::now(),
            in_flight: Some(in_flight),
        };
        let payload = serde_json::to_vec(&beat).map_err(|e| Error::Protocol {
            what: "the heartbeat".into(),
            message: e.to_string(),
        })?;
        self.client
            .publish(self.ns.heartbeats_subject(self.agent_id), payload.into())
            .await
            .map_err(|e| Error::nats("publishing a heartbeat", e))
    }

    /// The largest event the server accepts (its `max_payload`, 1 MiB by default).
    pub fn max_event_bytes(&self) -> usize {
        match self.client.server_info().max_payload {
            0 => 1024 * 1024,
            n => n,
        }
    }
}

impl Deliver for NatsLink {
    /// Sends every event, then awaits the confirmations in order: the window bounds how many
    /// are outstanding at once.
    async fn deliver(&self, events: &[AgentEvent]) -> Vec<Delivered> {
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            acks.push(self.send(event).await);
        }
        let mut results = Vec::with_capacity(events.len());
        for ack in acks {
            let result = match ack {
                Ok(ack) => ack
                    .await
                    .map(|_| None)
                    .map_err(|e| Error::nats("waiting for JetStream to store an event", e)),
                Err(e) => Err(e),
            };
            results.push(result);
        }
        results
    }
}

impl NatsLink {
    async fn send(
        &self,
        event: &AgentEvent,
    ) -> Result<jetstream::context::PublishAckFuture, Error> {
        let payload = serde_json::to_vec(event).map_err(|e| Error::Protocol {
            what: "an event".into(),
            message: e.to_string(),
        })?;
        let subject = self.ns.events_subject(self.agent_id, event.execution_id);
        let mut message = PublishMessage::build()
            .message_id(event.event_id.to_string())
            .payload(payload.into());
        for (name, value) in self.traces.of(event).pairs() {
            message = message.header(name, value);
        }
        self.js.send_publish(subject, message).await.map_err(|e| {
            use async_nats::jetstream::context::PublishErrorKind;
            match e.kind() {
                // Sending it again cannot make it smaller.
                PublishErrorKind::MaxPayloadExceeded => Error::TooLarge {
                    bytes: serde_json::to_vec(event).map(|v| v.len()).unwrap_or(0),
                    limit: self.max_event_bytes(),
                },
                _ => Error::nats("publishing an event", e),
            }
        })
    }
}
