//! How a coordinator behaves; built by the CLI from flags, environment and `.env`.

use std::path::PathBuf;
use std::time::Duration;

use planexec_schemas::subjects::Namespace;

use crate::archival::ArchivalOptions;
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
    /// Redelivery delay of an event the coordinator did not acknowledge (a replica that died
    /// mid-batch); events in a transaction are kept in progress meanwhile (`ingest`).
    pub ack_wait: Duration,
    /// How long a task given to an agent may stay unacknowledged before it is offered again:
    /// agents on NATS acknowledge as they take; over HTTP the gateway acknowledges when the
    /// agent first reports on the task, so this is the lease of an HTTP hand-out.
    pub agent_ack_wait: Duration,
    /// Most events handed to the coordinators but not yet acknowledged.
    pub max_ack_pending: i64,
    /// The streams' copies (1 on a single server; 3 on a 3-node cluster survives the loss of a
    /// node) and retention.
    pub streams: StreamLimits,
    /// How often the scheduler looks for due deadlines.
    pub scheduler_interval: Duration,
    /// How often signs of life are flushed to the database.
    pub liveness_flush_interval: Duration,
    /// Most commands handled at once by one coordinator.
    pub command_concurrency: usize,
    /// How long an agent must have said it holds nothing before its running tasks are handed
    /// out again (its last events may still be on their way; see `holders`).
    pub holder_grace: Duration,
    /// NATS authentication: when set, every agent registered gets NATS credentials of its own,
    /// and deleting an agent or rotating its credentials revokes the old ones.
    pub nats_auth: Option<NatsAuthOptions>,
    /// How webhook notifications are delivered and retried.
    pub webhooks: WebhookOptions,
    /// `PLANEXE_EVENTS_RETENTION_DAYS`: when set, the history of executions that ended longer
    /// ago moves to the archive, checked every few minutes; `None`: it stays where it is.
    pub archival: Option<ArchivalOptions>,
}

/// Where the keys that make agents' NATS credentials are (see `planexec nats init`).
#[derive(Debug, Clone)]
pub struct NatsAuthOptions {
    /// The planexec account's public key (`PLANEXE_NATS_ACCOUNT`).
    pub account: String,
    /// The account signing key's seed (`PLANEXE_NATS_SIGNING_KEY_FILE`).
    pub signing_key_file: PathBuf,
    /// The operator signing key's seed, to re-sign the account with revocations
    /// (`PLANEXE_NATS_OPERATOR_SIGNING_KEY_FILE`); without it nothing can be revoked.
    pub operator_signing_key_file: Option<PathBuf>,
    /// A system user's credentials, to push account updates (`PLANEXE_NATS_SYSTEM_CREDS`).
    pub system_creds: Option<PathBuf>,
    /// The NATS servers to push account updates to (the coordinator's own NATS URL).
    pub servers: String,
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
            ack_wait: Duration::from_secs(10),
            agent_ack_wait: Duration::from_secs(15),
            max_ack_pending: 4096,
            streams: StreamLimits::default(),
            scheduler_interval: Duration::from_millis(250),
            liveness_flush_interval: Duration::from_secs(2),
            command_concurrency: 64,
            holder_grace: Duration::from_secs(3),
            nats_auth: None,
            webhooks: WebhookOptions::default(),
            archival: None,
        }
    }
}

/// How the streams keep their messages (`Options`; the settings `PLANEXE_STREAM_REPLICAS`,
/// `PLANEXE_EVENTS_MAX_AGE_DAYS`, `PLANEXE_TASKS_MAX_AGE_DAYS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Copies of each stream (consumers inherit them).
    pub replicas: usize,
    /// How long events stay in their stream; coordinators acknowledge them within seconds,
    /// so this only bounds what a replay after a database restore can find.
    pub events_max_age: Duration,
    /// How long a task nobody fetched stays in its agent's queue (its lease expired long before).
    pub tasks_max_age: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            replicas: 1,
            events_max_age: Duration::from_secs(14 * 24 * 3600),
            tasks_max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}
