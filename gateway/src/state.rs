//! What every handler shares: connections, options, and small caches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_nats::jetstream::consumer::PullConsumer;
use planexec_schemas::Id;
use planexec_schemas::event::Heartbeat;
use sqlx::PgPool;

use crate::breaker::Breaker;
use crate::callbacks::Callbacks;
use crate::coordinator::CoordinatorClient;
use crate::error::ApiError;
use crate::handout::Handouts;
use crate::options::GatewayOptions;
use crate::stream::hub::Hub;

/// Cheap-to-clone handle on the gateway's shared state.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    nats: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    options: GatewayOptions,
    coordinator: CoordinatorClient,
    /// Agents' token hashes, kept briefly: a token rotated or deleted through another gateway
    /// stops working here when its entry expires (`GatewayOptions::token_cache_ttl`).
    token_hashes: moka::sync::Cache<Id, String>,
    /// Agents' task consumers, bound once.
    consumers: Mutex<HashMap<Id, PullConsumer>>,
    /// When each polling agent's sign of life was last forwarded.
    heartbeats: Mutex<HashMap<Id, Instant>>,
    /// Tasks handed out over HTTP, acknowledged when their agent reports on them.
    handouts: Handouts,
    /// Answers 503 at once while PostgreSQL is out of reach.
    breaker: Breaker,
    /// Live views' NATS subscriptions, shared by their watchers.
    streams: Hub,
    /// Conductor tasks to offer again after their `callbackAfterSeconds`.
    callbacks: Callbacks,
}

impl AppState {
    pub fn new(pool: PgPool, nats: async_nats::Client, options: GatewayOptions) -> Self {
        let jetstream = async_nats::jetstream::new(nats.clone());
        let coordinator = CoordinatorClient::new(
            nats.clone(),
            options.namespace.clone(),
            options.command_timeout,
        );
        let streams = Hub::new(nats.clone(), pool.clone(), options.namespace.clone());
        Self(Arc::new(Inner {
            pool,
            nats,
            jetstream,
            coordinator,
            token_hashes: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(options.token_cache_ttl)
                .build(),
            consumers: Mutex::default(),
            heartbeats: Mutex::default(),
            handouts: Handouts::default(),
            breaker: Breaker::new(options.breaker_open),
            options,
            streams,
            callbacks: Callbacks::default(),
        }))
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    pub fn nats(&self) -> &async_nats::Client {
        &self.0.nats
    }

    pub fn options(&self) -> &GatewayOptions {
        &self.0.options
    }

    pub fn coordinator(&self) -> &CoordinatorClient {
        &self.0.coordinator
    }

    pub fn breaker(&self) -> &Breaker {
        &self.0.breaker
    }

    pub fn handouts(&self) -> &Handouts {
        &self.0.handouts
    }

    /// The live views' subscriptions.
    pub fn streams(&self) -> &Hub {
        &self.0.streams
    }

    pub fn callbacks(&self) -> &Callbacks {
        &self.0.callbacks
    }

    pub fn operator_token(&self) -> &str {
        &self.0.options.operator_token
    }

    /// The stored token hash of `agent`, from cache or database.
    pub async fn token_hash(&self, agent: Id) -> Result<Option<String>, ApiError> {
        if let Some(hash) = self.0.token_hashes.get(&agent) {
            return Ok(Some(hash));
        }
        let hash = planexec_store::agents::token_hash(self.pool(), agent).await?;
        if let Some(hash) = &hash {
            self.0.token_hashes.insert(agent, hash.clone());
        }
        Ok(hash)
    }

    /// Drops `agent`'s cached token hash (its token was rotated or the agent deleted).
    pub fn forget_token(&self, agent: Id) {
        self.0.token_hashes.invalidate(&agent);
        if let Ok(mut cache) = self.0.consumers.lock() {
            cache.remove(&agent);
        }
    }

    /// The durable consumer of `agent`'s task subject.
    pub async fn consumer(&self, agent: Id) -> Result<PullConsumer, ApiError> {
        if let Some(consumer) = self
            .0
            .consumers
            .lock()
            .ok()
            .and_then(|m| m.get(&agent).cloned())
        {
            return Ok(consumer);
        }
        let ns = &self.0.options.namespace;
        let stream = self
            .0
            .jetstream
            .get_stream(ns.tasks_stream())
            .await
            .map_err(|e| ApiError::Unavailable(format!("the task stream is not available: {e}")))?;
        let consumer: PullConsumer = stream
            .get_consumer(&ns.agent_consumer(agent))
            .await
            .map_err(|e| {
                ApiError::Unavailable(format!(
                    "agent {agent} has no task queue (was it registered?): {e}"
                ))
            })?;
        if let Ok(mut cache) = self.0.consumers.lock() {
            cache.insert(agent, consumer.clone());
        }
        Ok(consumer)
    }

    /// Forwards a polling agent's sign of life to the coordinators, at most every few seconds.
    pub async fn heartbeat(&self, agent: Id) {
        let due = self.0.heartbeats.lock().map(|mut last| {
            let now = Instant::now();
            match last.get(&agent) {
                Some(at) if now.duration_since(*at) < self.0.options.heartbeat_every => false,
                _ => {
                    last.insert(agent, now);
                    true
                }
            }
        });
        if due.unwrap_or(true) {
            self.forward_heartbeat(agent, None).await;
        }
    }

    /// Forwards an agent's own heartbeat, which says how many tasks it holds (never skipped:
    /// agents send them every few seconds at most).
    pub async fn holding(&self, agent: Id, in_flight: u32) {
        self.forward_heartbeat(agent, Some(in_flight)).await;
    }

    async fn forward_heartbeat(&self, agent: Id, in_flight: Option<u32>) {
        let beat = Heartbeat {
            agent_id: agent,
            timestamp: chrono::Utc::now(),
            in_flight,
        };
        if let Ok(bytes) = serde_json::to_vec(&beat) {
            let subject = self.0.options.namespace.heartbeats_subject(agent);
            if let Err(e) = self.0.nats.publish(subject, bytes.into()).await {
                tracing::debug!(error = %e, "heartbeat not forwarded");
            }
        }
    }
}
