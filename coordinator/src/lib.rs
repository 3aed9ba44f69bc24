//! The coordinator: consumes agent events from JetStream, drives the state machine, persists
//! every event and transition to PostgreSQL in one transaction, and publishes tasks to agents.
//! It owns every write of execution state; the gateway and the CLI ask it through commands.
//!
//! - [`machine`]: the pure state machine (no I/O): transitions, routing, blocking, retries.
//! - [`engine`]: one transaction per batch of work, then the outbox (dispatches, cancels).
//! - [`ingest`]: pulls events from `PLANEXEC_EVENTS`, acknowledges after commit, dead letters.
//! - [`commands`]: request/reply on `planexec.cmd.*`.
//! - [`scheduler`]: stored deadlines, agent liveness, heartbeats; [`holders`]: tasks handed out
//!   again when their agent came back without them.
//! - [`streams`]: the streams and consumers, created idempotently.
//! - [`notify`]: webhook notifications of changes, and their delivery from the outbox.
//! - [`archival`]: the history of executions that ended long ago, moved to the archive.
//! - `metrics`, [`gauges`]: counters and histograms as things happen; gauges sampled.
//! - [`directory`], [`liveness`]: what the coordinator knows of agents.
//! - [`service`]: a replica's loops, started and stopped together.
//! - [`auth`]: agents' NATS credentials, minted and revoked.
//! - `error`: [`Error`], what can stop the coordinator (its database or NATS failing).

pub mod archival;
pub mod auth;
pub mod commands;
pub mod directory;
pub mod engine;
mod error;
pub mod gauges;
pub mod holders;
pub mod ingest;
pub mod liveness;
pub mod machine;
mod metrics;
pub mod notify;
mod options;
pub mod scheduler;
pub mod service;
pub mod streams;

pub use error::Error;
pub use options::{NatsAuthOptions, Options, StreamLimits};
pub use service::Coordinator;
