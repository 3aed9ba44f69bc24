//! What every handler shares: connections, options, and small caches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_nats::jetstream::consumer::PullConsumer;
use planexec_schemas::Id;
use planexec_schemas::event::Heartbeat;
use sqlx::PgPool;

use crate::callbacks::Callbacks;
use crate::coordinator::CoordinatorClient;
use crate::error::ApiError;
use crate::options::GatewayOptions;

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
    /// Agents' token hashes: tokens never change, so a hash read once stays right.
    token_hashes: Mutex<HashMap<Id, String>>,
    /// Agents' task consumers, bound once.
    consumers: Mutex<HashMap<Id, PullConsumer>>,
    /// When each polling agent's sign of life was last forwarded.
    heartbeats: Mutex<HashMap<Id, Instant>>,
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
        Self(Arc::new(Inner {
            pool,
            nats,
            jetstream,
            options,
            coordinator,
            token_hashes: Mutex::default(),
            consumers: Mutex::default(),
            heartbeats: Mutex::default(),
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

    pub fn callbacks(&self) -> &Callbacks {
        &self.0.callbacks
    }

    pub fn operator_token(&self) -> &str {
        &self.0.options.operator_token
    }

    /// The stored token hash of `agent`, from cache or database.
    pub async fn token_hash(&self, agent: Id) -> Result<Option<String>, ApiError> {
        if let Some(hash) = self
            .0
            .token_hashes
            .lock()
            .ok()
            .and_then(|m| m.get(&agent).cloned())
        {
            return Ok(Some(hash));
        }
        let hash = planexec_store::agents::token_hash(self.pool(), agent).await?;
        if let (Some(hash), Ok(mut cache)) = (&hash, self.0.token_hashes.lock()) {
            cache.insert(agent, hash.clone());
        }
        Ok(hash)
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
            let beat = Heartbeat {
                agent_id: agent,
                timestamp: chrono::Utc::now(),
                in_flight: 0,
            };
            if let Ok(bytes) = serde_json::to_vec(&beat) {
                let subject = self.0.options.namespace.heartbeats_subject(agent);
                if let Err(e) = self.0.nats.publish(subject, bytes.into()).await {
                    tracing::debug!(error = %e, "heartbeat not forwarded");
                }
            }
        }
    }
}
