//! The JetStream streams and consumers, created idempotently at start-up (and per agent).
//!
//! - `<NS>_EVENTS` (`planexec.events.>`): file storage, a duplicate window so that an agent's
//!   re-sent event (same id) is dropped by the server, one durable pull consumer shared by
//!   every coordinator replica (explicit ack, bounded ack-pending, ack wait).
//! - `<NS>_TASKS` (`planexec.tasks.>`): work-queue retention, one durable pull consumer per
//!   agent filtered on its own subject, created when the agent registers.
//!
//! Only nats-server 2.9 features are used.

use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use planexec_schemas::Id;
use planexec_schemas::subjects::Namespace;

use crate::{Error, Options};

/// Events are kept for two weeks; the coordinator has long acknowledged them by then.
const EVENTS_MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);
/// Tasks nobody fetched for a month are dropped (their leases expired long before).
const TASKS_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Creates both streams when missing.
pub async fn ensure_streams(js: &Context, ns: &Namespace) -> Result<(), Error> {
    js.get_or_create_stream(stream::Config {
        name: ns.events_stream(),
        subjects: vec![ns.events_wildcard()],
        storage: StorageType::File,
        retention: RetentionPolicy::Limits,
        discard: DiscardPolicy::Old,
        duplicate_window: Duration::from_secs(120),
        max_age: EVENTS_MAX_AGE,
        description: Some("planexec: events reported by agents".into()),
        ..Default::default()
    })
    .await
    .map_err(|e| Error::nats(format!("creating stream {}", ns.events_stream()), e))?;
    js.get_or_create_stream(stream::Config {
        name: ns.tasks_stream(),
        subjects: vec![ns.tasks_wildcard()],
        storage: StorageType::File,
        retention: RetentionPolicy::WorkQueue,
        discard: DiscardPolicy::Old,
        // Longer than any publish grace: a re-published dispatch is always recognised.
        duplicate_window: Duration::from_secs(600),
        max_age: TASKS_MAX_AGE,
        description: Some("planexec: tasks for agents, one subject per agent".into()),
        ..Default::default()
    })
    .await
    .map_err(|e| Error::nats(format!("creating stream {}", ns.tasks_stream()), e))?;
    Ok(())
}

/// The durable consumer of the events stream that every coordinator replica pulls from.
pub async fn coordinator_consumer(js: &Context, options: &Options) -> Result<PullConsumer, Error> {
    let ns = &options.namespace;
    let stream = js
        .get_stream(ns.events_stream())
        .await
        .map_err(|e| Error::nats(format!("opening stream {}", ns.events_stream()), e))?;
    stream
        .get_or_create_consumer(
            ns.coordinator_consumer(),
            pull::Config {
                durable_name: Some(ns.coordinator_consumer().to_owned()),
                description: Some("planexec coordinators".into()),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                ack_wait: options.ack_wait,
                max_ack_pending: options.max_ack_pending,
                filter_subject: ns.events_wildcard(),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| Error::nats("creating the coordinator consumer", e))
}

/// The durable consumer of one agent's task subject (idempotent).
pub async fn agent_consumer(
    js: &Context,
    ns: &Namespace,
    agent: Id,
) -> Result<PullConsumer, Error> {
    let stream = js
        .get_stream(ns.tasks_stream())
        .await
        .map_err(|e| Error::nats(format!("opening stream {}", ns.tasks_stream()), e))?;
    stream
        .get_or_create_consumer(
            &ns.agent_consumer(agent),
            pull::Config {
                durable_name: Some(ns.agent_consumer(agent)),
                description: Some(format!("tasks of agent {agent}")),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(60),
                max_ack_pending: 1000,
                filter_subject: ns.tasks_subject(agent),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| Error::nats(format!("creating the consumer of agent {agent}"), e))
}
