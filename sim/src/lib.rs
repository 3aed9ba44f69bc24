//! Larry, the simulated assistant: an agent built only on the agent SDK's public API that acts
//! out every Larry capability with realistic durations, passing failures and plausible outputs.
//!
//! `planexec agent run --sim larry` maps its flags onto [`SimOptions`] and calls [`run`].
//!
//! - [`options`]: [`SimOptions`] and how they become SDK options.
//! - [`larry`]: [`Larry`], the handler.
//! - [`actions`]: each capability's duration, steps and troubles.
//! - [`outputs`]: what each action hands back.
//! - [`chance`]: seeded randomness per task attempt.
//! - [`event_log`]: the JSON-lines log of everything received and delivered.
//! - [`error`] holds [`Error`].

pub mod actions;
pub mod chance;
pub mod error;
pub mod event_log;
pub mod larry;
pub mod options;
pub mod outputs;

use std::path::PathBuf;
use std::sync::Arc;

use planexec_agent_sdk::{Agent, Credentials, RunReport};
use planexec_schemas::api::RegisteredAgent;
use tokio_util::sync::CancellationToken;

pub use error::Error;
pub use larry::Larry;
pub use options::{SimIdentity, SimOptions, SimTransport};

/// What a simulator run did.
#[derive(Debug, Clone, PartialEq)]
pub struct SimReport {
    /// The agent this run registered (with its token), if it registered one.
    pub registered: Option<RegisteredAgent>,
    /// The seed the run used (given, or drawn): pass it again to repeat the run.
    pub seed: u64,
    pub agent: RunReport,
    /// Lines written to the event log.
    pub event_log_lines: u64,
}

/// Registers a new agent as the options say (gateway or NATS), without running it; the CLI
/// calls this to print the new agent's id and token before it starts working.
pub async fn register(options: &SimOptions, name: &str) -> Result<RegisteredAgent, Error> {
    let via = options.register_via()?;
    let registered =
        planexec_agent_sdk::register(&via, &options.namespace, &options.registration(name)).await?;
    tracing::info!(agent = %registered.agent.id, name, "Larry registered");
    Ok(registered)
}

/// Runs Larry until `shutdown`, then shuts down gracefully.
/// Writes a registration's NATS credentials where only this user can read them; the path.
fn keep_credentials(agent: planexec_schemas::Id, text: &str) -> Result<PathBuf, Error> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = std::env::temp_dir().join(format!("planexec-agent-{agent}.creds"));
    let failed = |source| Error::Credentials {
        path: path.clone(),
        source,
    };
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    Ok(path)
}

pub async fn run(options: SimOptions, shutdown: CancellationToken) -> Result<SimReport, Error> {
    options.check()?;
    let (credentials, registered) = match &options.identity {
        SimIdentity::Existing { agent_id, token } => (
            Credentials {
                agent_id: *agent_id,
                token: token.clone(),
            },
            None,
        ),
        SimIdentity::Register { name } => {
            let registered = register(&options, name).await?;
            (Credentials::from(&registered), Some(registered))
        }
    };
    let seed = options.seed.unwrap_or_else(chance::random_seed);
    let larry = Larry {
        time_scale: options.time_scale,
        failure_rate: options.failure_rate,
        seed,
        durations: options.durations.clone(),
    };
    let agent_id = credentials.agent_id;
    let mut agent_options = options.agent_options(credentials)?;
    // A new registration on NATS with authentication carries the agent's own credentials.
    if agent_options.nats_creds.is_none()
        && let Some(text) = registered
            .as_ref()
            .and_then(|r| r.nats_credentials.as_deref())
    {
        agent_options.nats_creds = Some(keep_credentials(agent_id, text)?);
    }
    let writer = match &options.event_log {
        Some(path) => {
            let (log, writer) = event_log::open(path).await?;
            agent_options.observer = Arc::new(log);
            Some(writer)
        }
        None => None,
    };
    tracing::info!(agent = ?agent_options.agent_id(), seed, time_scale = options.time_scale,
        failure_rate = options.failure_rate, "Larry starts work");
    let outcome = Agent::new(agent_options)?.run(larry, shutdown).await;
    let event_log_lines = match writer {
        Some(writer) => writer.finish().await?,
        None => 0,
    };
    Ok(SimReport {
        registered,
        seed,
        agent: outcome?,
        event_log_lines,
    })
}
