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

use sqlx::PgPool;

use crate::options::StreamLimits;
use crate::{Error, Options};

/// Creates both streams when missing with `limits`; on existing streams, raises the replicas
/// when fewer (never lowers them: that is an operator's choice) and sets the retention.
pub async fn ensure_streams(
    js: &Context,
    ns: &Namespace,
    limits: StreamLimits,
) -> Result<(), Error> {
    let replicas = limits.replicas;
    let events = stream::Config {
        name: ns.events_stream(),
        subjects: vec![ns.events_wildcard()],
        storage: StorageType::File,
        retention: RetentionPolicy::Limits,
        discard: DiscardPolicy::Old,
        duplicate_window: Duration::from_secs(120),
        max_age: limits.events_max_age,
        description: Some("planexec: events reported by agents".into()),
        num_replicas: replicas,
        ..Default::default()
    };
    let tasks = stream::Config {
        name: ns.tasks_stream(),
        subjects: vec![ns.tasks_wildcard()],
        storage: StorageType::File,
        retention: RetentionPolicy::WorkQueue,
        discard: DiscardPolicy::Old,
        // Longer than any publish grace: a re-published dispatch is always recognised.
        duplicate_window: Duration::from_secs(600),
        max_age: limits.tasks_max_age,
        description: Some("planexec: tasks for agents, one subject per agent".into()),
        num_replicas: replicas,
        ..Default::default()
    };
    for config in [events, tasks] {
        let name = config.name.clone();
        let mut stream = js
            .get_or_create_stream(config)
            .await
            .map_err(|e| Error::nats(format!("creating stream {name}"), e))?;
        let mut current = stream
            .info()
            .await
            .map_err(|e| Error::nats(format!("reading stream {name}"), e))?
            .config
            .clone();
        let max_age = if name == ns.events_stream() {
            limits.events_max_age
        } else {
            limits.tasks_max_age
        };
        if current.num_replicas < replicas || current.max_age != max_age {
            tracing::info!(stream = %name, replicas_from = current.num_replicas,
                replicas_to = current.num_replicas.max(replicas), max_age_from = ?current.max_age,
                max_age_to = ?max_age, "updating the stream's replicas and retention");
            current.num_replicas = current.num_replicas.max(replicas);
            current.max_age = max_age;
            js.update_stream(current)
                .await
                .map_err(|e| Error::nats(format!("updating stream {name}"), e))?;
        }
    }
    Ok(())
}

/// Ties the database to the streams: the database's installation id is written on the events
/// stream the first time, and a database and streams of different installations refuse to work
/// together (events naming executions this database does not know would be dead-lettered).
pub async fn check_installation(js: &Context, ns: &Namespace, pool: &PgPool) -> Result<(), Error> {
    let installation = planexec_store::installation::ensure(pool).await?;
    let name = ns.events_stream();
    let mut stream = js
        .get_stream(&name)
        .await
        .map_err(|e| Error::nats(format!("opening stream {name}"), e))?;
    let mut config = stream
        .info()
        .await
        .map_err(|e| Error::nats(format!("reading stream {name}"), e))?
        .config
        .clone();
    let description = config.description.clone().unwrap_or_default();
    match installation_of(&description) {
        Some(theirs) if theirs == installation => Ok(()),
        Some(theirs) => Err(Error::Installation(format!(
            "the database belongs to installation {installation}, but the NATS streams of namespace              {:?} belong to installation {theirs}: this replica is pointed at another installation's              database or NATS. Check PLANEXE_DATABASE_URL and PLANEXE_NATS_URL; to start afresh on this              NATS, use another PLANEXE_NATS_NAMESPACE.",
            ns.prefix()
        ))),
        None => {
            config.description = Some(format!("{description} (installation {installation})"));
            js.update_stream(config).await.map_err(|e| {
                Error::nats(format!("writing the installation on stream {name}"), e)
            })?;
            Ok(())
        }
    }
}

/// The installation id written in a stream's description.
fn installation_of(description: &str) -> Option<Id> {
    let (_, rest) = description.rsplit_once("(installation ")?;
    rest.strip_suffix(')')?.parse().ok()
}

/// The durable consumer of the events stream that every coordinator replica pulls from.
pub async fn coordinator_consumer(js: &Context, options: &Options) -> Result<PullConsumer, Error> {
    let ns = &options.namespace;
    let stream = js
        .get_stream(ns.events_stream())
        .await
        .map_err(|e| Error::nats(format!("opening stream {}", ns.events_stream()), e))?;
    let config = pull::Config {
        durable_name: Some(ns.coordinator_consumer().to_owned()),
        description: Some("planexec coordinators".into()),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: options.ack_wait,
        max_ack_pending: options.max_ack_pending,
        filter_subject: ns.events_wildcard(),
        ..Default::default()
    };
    // As for an agent's consumer: creating it again updates its ack wait and ack pending.
    match stream.create_consumer(config.clone()).await {
        Ok(consumer) => Ok(consumer),
        Err(e) => {
            tracing::debug!(error = %e, "cannot update the coordinator consumer; using it as it is");
            stream
                .get_or_create_consumer(ns.coordinator_consumer(), config)
                .await
                .map_err(|e| Error::nats("creating the coordinator consumer", e))
        }
    }
}

/// The durable consumer of one agent's task subject, made or brought up to date (idempotent).
///
/// Its ack wait is the lease of a task handed out over HTTP until the agent reports on it
/// (agents on NATS acknowledge a task as they take it): see `Options::agent_ack_wait`.
pub async fn agent_consumer(
    js: &Context,
    options: &Options,
    agent: Id,
) -> Result<PullConsumer, Error> {
    let ns = &options.namespace;
    let stream = js
        .get_stream(ns.tasks_stream())
        .await
        .map_err(|e| Error::nats(format!("opening stream {}", ns.tasks_stream()), e))?;
    let config = pull::Config {
        durable_name: Some(ns.agent_consumer(agent)),
        description: Some(format!("tasks of agent {agent}")),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: options.agent_ack_wait,
        max_ack_pending: 1000,
        filter_subject: ns.tasks_subject(agent),
        ..Default::default()
    };
    // Creating an existing consumer with other editable settings (the ack wait) updates it.
    match stream.create_consumer(config.clone()).await {
        Ok(consumer) => Ok(consumer),
        Err(e) => {
            tracing::debug!(%agent, error = %e, "cannot update the agent's consumer; using it as it is");
            stream
                .get_or_create_consumer(&ns.agent_consumer(agent), config)
                .await
                .map_err(|e| Error::nats(format!("creating the consumer of agent {agent}"), e))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_installation_is_read_back_from_a_stream_description() {
        let id = planexec_schemas::new_id();
        let described = format!("planexec: events reported by agents (installation {id})");
        assert_eq!(super::installation_of(&described), Some(id));
        assert_eq!(
            super::installation_of("planexec: events reported by agents"),
            None
        );
    }
}
