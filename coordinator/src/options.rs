//! How a coordinator behaves; built by the CLI from flags, environment and `.env`.

use std::time::Duration;

use planexec_schemas::subjects::Namespace;

use crate::machine::RetryPolicy;
use crate::notify::deliver::WebhookOptions;

/// Tunables of a coordinator. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// Prefix of every subject and stream (`planexec`).
    pub namespace: Namespace,
    /// `PLANEXE_EXECUTION_ENABLED`: when false, no execution may be created.
    pub execution_enabled: bool,
    /// Retries of a failed leaf (see [`RetryPolicy`]); each plan task may lower or raise
    /// `max_attempts`.
    pub retry: RetryPolicy,
    /// How long an agent may work on a leaf once started, unless the plan says otherwise.
    pub task_timeout_seconds: u32,
    /// How long a dispatched leaf may wait in an agent's queue before it counts as timed out.
    pub queue_timeout: Duration,
    /// How long a dispatch may stay unconfirmed by JetStream before it is published again.
    pub publish_grace: Duration,
    /// An agent without a sign of life for this long is offline.
    pub agent_offline_after: Duration,
    /// Most events applied in one transaction.
    pub batch_size: usize,
    /// Workers applying events at once, each for its own share of the executions.
    pub ingest_workers: usize,
    /// Redelivery delay of an event the coordinator did not acknowledge.
    pub ack_wait: Duration,
    /// Most events handed to the coordinators but not yet acknowledged.
    pub max_ack_pending: i64,
    /// How often the scheduler looks for due deadlines.
    pub scheduler_interval: Duration,
    /// How often signs of life are flushed to the database.
    pub liveness_flush_interval: Duration,
    /// Most commands handled at once by one coordinator.
    pub command_concurrency: usize,
    /// How webhook notifications are delivered and retried.
    pub webhooks: WebhookOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            namespace: Namespace::default(),
            execution_enabled: true,
            retry: RetryPolicy::default(),
            task_timeout_seconds: 3600,
            queue_timeout: Duration::from_secs(3600),
            publish_grace: Duration::from_secs(5),
            agent_offline_after: Duration::from_secs(60),
            batch_size: 256,
            ingest_workers: 8,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 4096,
            scheduler_interval: Duration::from_millis(250),
            liveness_flush_interval: Duration::from_secs(2),
            command_concurrency: 64,
            webhooks: WebhookOptions::default(),
        }
    }
}
