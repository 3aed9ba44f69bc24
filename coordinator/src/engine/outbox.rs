//! After a commit: publish dispatches and cancels to agents' task subjects (JetStream), and
//! live updates (core NATS).
//!
//! A dispatch JetStream acknowledged is confirmed in the database with its execution's next
//! change, or on its own shortly after ([`super::confirm`]). One that is not (the coordinator
//! died between commit and confirmation, or NATS was away) is published again by the scheduler
//! after a grace; its message id (`<task>.<attempt>`) makes JetStream drop the copy.
//! Publication acknowledgements are awaited in bounded chunks, never thousands at once.

use async_nats::jetstream::message::PublishMessage;
use futures::future::join_all;
use planexec_schemas::Id;
use planexec_schemas::task::{AgentMessage, TaskAssignment};
use planexec_store::executions::engine::{self, Published};
use planexec_telemetry::propagate::TraceContext;
use tracing::Instrument;

use super::Engine;
use super::effects::Dispatch;
use super::publish::Publication;

/// How many publications may wait for their acknowledgement at once.
const IN_FLIGHT: usize = 256;

impl Engine {
    /// Sends what a committed transaction implies.
    pub(super) async fn publish(&self, publication: Publication) {
        let Publication {
            dispatches,
            cancels,
            updates,
            confirmed: _,
        } = publication;
        if !dispatches.is_empty() {
            self.publish_dispatches(dispatches).await;
        }
        let ns = &self.options().namespace;
        for chunk in cancels.chunks(IN_FLIGHT) {
            let sends = chunk.iter().map(|(agent, cancel)| {
                let message = AgentMessage::Cancel(cancel.clone());
                self.send(ns.tasks_subject(*agent), message, TraceContext::default())
            });
            for result in join_all(sends).await {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "a cancel was not published; the agent's next event for it is rejected anyway");
                }
            }
        }
        for update in updates {
            match serde_json::to_vec(&update) {
                Ok(bytes) => {
                    if let Err(e) = self
                        .nats()
                        .publish(ns.updates_subject(update.execution_id), bytes.into())
                        .await
                    {
                        tracing::debug!(error = %e, "live update not published");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "live update not serialisable"),
            }
        }
    }

    async fn publish_dispatches(&self, dispatches: Vec<Dispatch>) {
        let ids: Vec<Id> = dispatches.iter().map(|d| d.task_id).collect();
        let details = match engine::assignment_details(self.pool(), &ids).await {
            Ok(details) => details,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read assignment details; dispatches will be published again later");
                return;
            }
        };
        let ns = &self.options().namespace;
        for chunk in dispatches.chunks(IN_FLIGHT) {
            let sends = chunk.iter().map(|d| {
                let detail = details.get(&d.task_id);
                let assignment = TaskAssignment {
                    execution_id: d.execution_id,
                    task_id: d.task_id,
                    attempt: d.attempt,
                    plan_id: d.plan_id,
                    wbs: d.wbs.clone(),
                    title: d.title.clone(),
                    description: detail.map(|x| x.description.clone()).unwrap_or_default(),
                    capability: d.capability.clone(),
                    params: detail.map(|x| x.params.clone()).unwrap_or_default(),
                    resources_needed: detail
                        .map(|x| x.resources_needed.clone())
                        .unwrap_or_default(),
                    parent: detail.and_then(|x| x.parent.clone()),
                    phase: detail.and_then(|x| x.phase.clone()),
                    timeout_seconds: d.timeout_seconds,
                    retry_policy: self.options().retry.with_attempts(d.max_attempts).wire(),
                    dispatched_at: d.dispatched_at,
                };
                // The publication's own span, in the trace of what caused it; the agent's events
                // come back in it.
                let span = tracing::info_span!("dispatch", execution = %d.execution_id,
                    task = %d.task_id, attempt = d.attempt, agent = %d.agent);
                d.trace.parent_of(&span);
                let trace = span.in_scope(TraceContext::current);
                let message = AgentMessage::Task(assignment);
                async move { self.send(ns.tasks_subject(d.agent), message, trace).await }
                    .instrument(span)
            });
            let results = join_all(sends).await;
            let mut confirmed: Vec<&Dispatch> = Vec::with_capacity(chunk.len());
            for (d, result) in chunk.iter().zip(results) {
                match result {
                    Ok(()) => confirmed.push(d),
                    Err(e) => {
                        tracing::warn!(task = %d.task_id, attempt = d.attempt, error = %e, "dispatch not published yet");
                    }
                }
            }
            crate::metrics::dispatched(confirmed.len());
            // Pending first, then the cached state: a batch that takes the state with the
            // confirmation writes it and clears it from the pending ones.
            let published: Vec<Published> = confirmed
                .iter()
                .map(|d| Published {
                    table: d.table,
                    execution_id: d.execution_id,
                    task_id: d.task_id,
                    attempt: d.attempt,
                })
                .collect();
            self.inner.confirmations.add(&published);
            let now = chrono::Utc::now();
            for d in confirmed {
                crate::metrics::dispatch_latency(
                    (now - d.dispatched_at).num_milliseconds() as f64 / 1000.0,
                );
                self.states()
                    .confirm_published(d.execution_id, d.task_id, d.attempt);
            }
        }
    }

    /// Publishes to JetStream with the message's id (and trace) and waits for the server's
    /// acknowledgement.
    async fn send(
        &self,
        subject: String,
        message: AgentMessage,
        trace: TraceContext,
    ) -> Result<(), String> {
        let id = message.message_id();
        let bytes = serde_json::to_vec(&message).map_err(|e| e.to_string())?;
        let mut publish = PublishMessage::build().message_id(id).payload(bytes.into());
        for (name, value) in trace.pairs() {
            publish = publish.header(name, value);
        }
        let ack = self
            .jetstream()
            .send_publish(subject, publish)
            .await
            .map_err(|e| e.to_string())?;
        ack.await.map(|_| ()).map_err(|e| e.to_string())
    }
}
