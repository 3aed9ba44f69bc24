//! The engine: applies work to executions in one transaction, then publishes what it implies.
//!
//! Every write of execution state in planexec goes through [`Engine::run`], in five phases, one
//! module each:
//! 1. [`start`]: lock the executions (row locks in id order; the scheduler skips busy ones) and
//!    materialise the tasks of those that start,
//! 2. [`load`]: their states, from the cache or the database, and the event ids already recorded,
//! 3. [`apply`]: each piece of work through the pure state machine; [`effects`] reads every change
//!    once (history, dispatches, cancels, results, and the [`log`] lines for after the commit),
//! 4. [`save`]: what changed and the history, then commit,
//! 5. [`publish`]: log, cache the states, and publish dispatches, cancels and live updates
//!    ([`outbox`]: a dispatch whose publication is not confirmed is published again by the
//!    scheduler).
//!
//! Acknowledging a JetStream message or answering a command happens only after `run` returns,
//! so nothing is acknowledged before its effect is committed.

mod apply;
mod cache;
pub mod confirm;
mod effects;
mod load;
mod log;
mod outbox;
mod publish;
mod save;
mod start;
mod starter;
mod state;
mod work;

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use planexec_schemas::Id;
use sqlx::PgPool;

use crate::auth::NatsAuth;
use crate::directory::Directory;
use crate::liveness::Liveness;
use crate::machine::{AgentDirectory, Context};
use crate::{Error, Options};

pub use effects::{Dispatch, coordinator_event};
pub use work::{Item, ItemResult, LockMode, Outcome, Work};

/// A cheap-to-clone handle on the engine.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    nats: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    options: Options,
    directory: Directory,
    liveness: Liveness,
    /// States of executions as last committed here, by version.
    states: cache::StateCache,
    /// Agents' NATS credentials, when NATS has authentication.
    auth: Option<NatsAuth>,
    /// Dispatches JetStream confirmed that the database does not hold yet.
    confirmations: confirm::Pending,
    /// Executions just created, waiting for their start.
    starts: starter::Starts,
}

impl Engine {
    /// An engine for NATS without authentication (agents get no credentials).
    pub fn new(pool: PgPool, nats: async_nats::Client, options: Options) -> Self {
        Self::with_auth(pool, nats, options, None)
    }

    /// An engine that mints agents' NATS credentials with `auth`.
    pub fn with_auth(
        pool: PgPool,
        nats: async_nats::Client,
        options: Options,
        auth: Option<NatsAuth>,
    ) -> Self {
        let jetstream = async_nats::jetstream::new(nats.clone());
        Self {
            inner: Arc::new(Inner {
                pool,
                nats,
                jetstream,
                options,
                directory: Directory::default(),
                liveness: Liveness::default(),
                states: cache::StateCache::default(),
                auth,
                confirmations: confirm::Pending::default(),
                starts: starter::Starts::default(),
            }),
        }
    }

    pub fn auth(&self) -> Option<&NatsAuth> {
        self.inner.auth.as_ref()
    }

    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    pub fn nats(&self) -> &async_nats::Client {
        &self.inner.nats
    }

    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.inner.jetstream
    }

    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    pub fn liveness(&self) -> &Liveness {
        &self.inner.liveness
    }

    pub(crate) fn states(&self) -> &cache::StateCache {
        &self.inner.states
    }

    /// Applies `items` in order, in one transaction, and publishes their effects.
    pub async fn run(&self, items: &[Item], mode: LockMode) -> Result<Vec<ItemResult>, Error> {
        let started = Instant::now();
        let inner = &self.inner;
        let directory = inner.directory.snapshot(&inner.pool).await?;
        let ctx = self.context(&directory);
        let mut tx = inner.pool.begin().await?;
        let locked = start::lock_and_start(&mut tx, items, mode, ctx.now, &inner.options).await?;
        let mut batch = load::load(&mut tx, locked, items, &inner.states).await?;
        let (results, spans) = batch.apply(items, mode, &ctx, &inner.liveness);
        let versions = save::save(&mut tx, &mut batch, ctx.publish_grace).await?;
        tx.commit().await?;
        // Each item's span ends with the commit that made it durable.
        drop(spans);
        let outcomes = results.iter().map(|r| r.outcome.label());
        crate::metrics::batch(items.len(), outcomes, started.elapsed());
        let publication = batch.committed(&versions, &inner.states);
        inner.confirmations.written(&publication.confirmed);
        self.publish(publication).await;
        Ok(results)
    }

    /// What the machine may know in this transaction: the time, the agents, the options.
    fn context<'a>(&self, agents: &'a AgentDirectory) -> Context<'a> {
        let options = &self.inner.options;
        Context {
            now: Utc::now(),
            agents,
            retry: options.retry,
            queue_timeout: chrono::Duration::from_std(options.queue_timeout)
                .unwrap_or(chrono::Duration::hours(1)),
            publish_grace: chrono::Duration::from_std(options.publish_grace)
                .unwrap_or(chrono::Duration::seconds(5)),
        }
    }

    /// Wakes `executions` (create, approve, scheduler), skipping those another replica holds.
    pub async fn wake(&self, executions: &[Id]) -> Result<Vec<ItemResult>, Error> {
        let items: Vec<Item> = executions
            .iter()
            .map(|id| Item {
                execution_id: *id,
                work: Work::Wake,
            })
            .collect();
        self.run(&items, LockMode::SkipLocked).await
    }

    /// Tells `executions` that agents changed.
    pub async fn agents_changed(&self, executions: &[Id]) -> Result<(), Error> {
        self.inner.directory.invalidate();
        let items: Vec<Item> = executions
            .iter()
            .map(|id| Item {
                execution_id: *id,
                work: Work::AgentsChanged,
            })
            .collect();
        for chunk in items.chunks(64) {
            self.run(chunk, LockMode::Wait).await?;
        }
        Ok(())
    }
}
