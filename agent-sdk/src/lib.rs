//! The planexec agent SDK: write a [`Handler`] for your capabilities, run it with an [`Agent`].
//!
//! ```no_run
//! use planexec_agent_sdk::{
//!     Agent, AgentOptions, Credentials, Handler, Identity, TaskAssignment, TaskContext,
//!     TaskError, Transport, CancellationToken,
//! };
//!
//! struct Mailer;
//!
//! impl Handler for Mailer {
//!     fn capabilities(&self) -> Vec<String> {
//!         vec!["send_email".into()]
//!     }
//!
//!     async fn handle(
//!         &self,
//!         task: TaskAssignment,
//!         ctx: TaskContext,
//!     ) -> Result<serde_json::Value, TaskError> {
//!         ctx.progress(50.0, "message written").await;
//!         Ok(serde_json::json!({ "sent_to": task.params["to"] }))
//!     }
//! }
//!
//! # async fn run(agent_id: planexec_schemas::Id, token: String) -> Result<(), planexec_agent_sdk::Error> {
//! let options = AgentOptions::new(
//!     Identity::Registered(Credentials { agent_id, token }),
//!     Transport::Nats { url: "nats://127.0.0.1:4222".into() },
//! );
//! let report = Agent::new(options)?.run(Mailer, CancellationToken::new()).await?;
//! # Ok(()) }
//! ```
//!
//! The SDK does everything around the handler: takes each task off the agent's queue, reports
//! `task_started`, then `task_complete` / `task_failed` / `task_released` from what the handler
//! returns, delivers every event at least once under its own id (buffered and re-sent while the
//! server is away), beats, stops a handler the coordinator cancels, and shuts down gracefully.
//!
//! - [`handler`]: the [`Handler`] trait and [`TaskError`] (retry later, give up, release).
//! - [`context`]: [`TaskContext`]: progress, logs, cancellation.
//! - [`options`]: [`AgentOptions`], [`Transport`], [`Identity`].
//! - [`mod@register`]: registering an agent (gateway or NATS), tokens.
//! - [`observer`]: [`Observer`], a window onto traffic (event logs, metrics, tests).
//! - `runner`: [`Agent`]: intake, the tasks running, heartbeats, shutdown.
//! - `outbox`: the bounded, ordered buffer of events and its delivery loop.
//! - `transport`: NATS (JetStream) and HTTP (gateway long-polling).
//! - `events`: events built within the coordinator's validation limits.
//! - `backoff`: capped exponential back-off with jitter.
//! - [`error`] holds [`Error`].

mod backoff;
pub mod context;
pub mod error;
mod events;
pub mod handler;
pub mod observer;
pub mod options;
mod outbox;
pub mod register;
mod runner;
mod transport;

pub use context::TaskContext;
pub use error::Error;
pub use handler::{Handler, TaskError, TaskErrorKind};
pub use observer::{NoObserver, Observer};
pub use options::{AgentOptions, Identity, POLL_INTERVAL_ENV, Transport, poll_interval_cap};
pub use register::{Credentials, RegisterVia, Registration, new_token, register, token_hash};
pub use runner::{Agent, RunReport};

pub use planexec_schemas::event::{AgentEvent, LogLevel};
pub use planexec_schemas::task::{AgentMessage, TaskAssignment, TaskCancel};
pub use tokio_util::sync::CancellationToken;
