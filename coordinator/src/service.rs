//! A coordinator replica: its loops, started together and stopped together.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::NatsAuth;
use crate::engine::Engine;
use crate::{Error, Options, archival, commands, gauges, ingest, notify, scheduler, streams};

/// A coordinator ready to run: streams exist, the consumer is bound.
#[derive(Debug)]
pub struct Coordinator {
    engine: Engine,
    consumer: async_nats::jetstream::consumer::PullConsumer,
    commands: async_nats::Subscriber,
}

impl Coordinator {
    /// Creates the streams and the shared consumer when missing and subscribes to commands. The
    /// database must be migrated.
    pub async fn start(
        pool: PgPool,
        nats: async_nats::Client,
        options: Options,
    ) -> Result<Self, Error> {
        let auth = options.nats_auth.as_ref().map(NatsAuth::load).transpose()?;
        let engine = Engine::with_auth(pool, nats, options, auth);
        let options = engine.options();
        // On a cluster that is still electing leaders (replicas starting at once, a node that has
        // not seen the account yet) creating a stream times out or fails for a while: NATS
        // errors are tried again for about a minute; a mismatched installation is not.
        let prepare = || async {
            streams::ensure_streams(engine.jetstream(), &options.namespace, options.streams)
                .await?;
            streams::check_installation(engine.jetstream(), &options.namespace, engine.pool()).await
        };
        prepare
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(500))
                    .with_max_delay(Duration::from_secs(8))
                    .with_max_times(10),
            )
            .when(|e| matches!(e, Error::Nats { .. }))
            .notify(|e, wait| {
                tracing::warn!(error = %e, retry_in = ?wait, "the streams are not ready yet");
            })
            .await?;
        if let Some(auth) = engine.auth()
            && let Err(e) = auth.push_revocations(engine.pool()).await
        {
            tracing::warn!(error = %e, "cannot push the NATS revocations now; they are pushed again at the next change");
        }
        let consumer = streams::coordinator_consumer(engine.jetstream(), engine.options()).await?;
        // Agents' queues are made at registration; make them again in case the NATS store was
        // lost (idempotent when they exist).
        for (agent, _, _) in planexec_store::agents::directory(engine.pool()).await? {
            if let Err(e) =
                streams::agent_consumer(engine.jetstream(), engine.options(), agent).await
            {
                tracing::warn!(%agent, error = %e, "cannot make the agent's task queue");
            }
        }
        let commands = commands::subscribe(&engine).await?;
        Ok(Self {
            engine,
            consumer,
            commands,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Ingests events, answers commands and fires deadlines until `shutdown`, then finishes
    /// the work in progress and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let tasks = TaskTracker::new();
        tasks.spawn(gauges::run(
            self.engine.pool().clone(),
            self.consumer.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(notify::deliver::run(
            self.engine.pool().clone(),
            self.engine.options().webhooks.clone(),
            shutdown.clone(),
        ));
        if let Some(options) = self.engine.options().archival.clone() {
            tasks.spawn(archival::run(
                self.engine.pool().clone(),
                options,
                shutdown.clone(),
            ));
        }
        tasks.spawn(ingest::run(
            self.engine.clone(),
            self.consumer,
            shutdown.clone(),
        ));
        tasks.spawn(commands::serve(
            self.engine.clone(),
            self.commands,
            shutdown.clone(),
        ));
        tasks.spawn(scheduler::run(self.engine.clone(), shutdown.clone()));
        tasks.spawn(crate::engine::confirm::run(
            self.engine.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(scheduler::listen_for_heartbeats(
            self.engine.clone(),
            shutdown.clone(),
        ));
        tracing::info!(
            namespace = self.engine.options().namespace.prefix(),
            "coordinator running"
        );
        tasks.close();
        shutdown.cancelled().await;
        tasks.wait().await;
        tracing::info!("coordinator stopped");
    }
}
