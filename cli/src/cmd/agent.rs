//! `planexec agent run --sim larry`: the Larry simulator, an agent built on the public SDK.

use std::path::PathBuf;
use std::time::Duration;

use planexec_schemas::Id;
use planexec_schemas::subjects::Namespace;
use planexec_sim::{SimIdentity, SimOptions, SimTransport};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run a simulated agent until interrupted.
    Run(RunArgs),
    /// List the agents with their status and last heartbeat.
    List(super::agent_admin::ListArgs),
    /// One agent: status, last heartbeat, capabilities.
    Show(super::agent_admin::ShowArgs),
    /// Register an agent; prints its token and can keep its NATS credentials.
    Register(super::agent_admin::RegisterArgs),
    /// Change an agent's name, role or capabilities.
    Update(super::agent_admin::UpdateArgs),
    /// Give an agent a new token and NATS credentials (the old ones stop working).
    Rotate(super::agent_admin::RotateArgs),
    /// Delete an agent (its token and NATS credentials stop working).
    Delete(super::agent_admin::DeleteArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sim {
    Larry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportKind {
    Nats,
    Http,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Which simulated agent.
    #[arg(long, value_enum)]
    pub sim: Sim,
    /// Receive tasks over NATS (JetStream) or by polling the gateway.
    #[arg(
        long,
        value_enum,
        default_value = "nats",
        env = "PLANEXE_AGENT_TRANSPORT"
    )]
    pub transport: TransportKind,
    /// The gateway (HTTP transport, and registration with --name).
    #[arg(long, env = "PLANEXE_GATEWAY_URL")]
    pub gateway: Option<String>,
    /// The NATS server (NATS transport).
    #[arg(long, env = "PLANEXE_NATS_URL")]
    pub nats: Option<String>,
    /// The agent's own NATS credentials file (the `nats_credentials` its registration returned),
    /// for NATS servers with authentication.
    #[arg(long, env = "PLANEXE_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// Prefix of NATS subjects and streams.
    #[arg(long, env = "PLANEXE_NATS_NAMESPACE", default_value = "planexec")]
    pub nats_namespace: String,
    /// Act as this registered agent (with --token).
    #[arg(long, requires = "token", conflicts_with = "name")]
    pub agent_id: Option<Id>,
    /// The agent's token.
    #[arg(long, env = "PLANEXE_AGENT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Register a new agent with this name (needs the operator token via the gateway).
    #[arg(long)]
    pub name: Option<String>,
    /// Append every event sent and every assignment received to this file (JSON lines).
    #[arg(long)]
    pub event_log: Option<PathBuf>,
    /// Multiply simulated durations by this (0.0001 runs a plan in seconds; 0: instant).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Probability that an attempt fails with a retryable error.
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// Tasks worked on at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Seed of the simulated randomness.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Longest pause between polls when idle or when the server is unreachable.
    #[arg(
        long,
        env = "PLANEXE_AGENT_POLL_INTERVAL_SECONDS",
        default_value_t = 300
    )]
    pub poll_interval_seconds: u64,
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    use super::agent_admin;
    let args = match command {
        Command::Run(args) => args,
        Command::List(args) => return agent_admin::list(args).await,
        Command::Show(args) => return agent_admin::show(args).await,
        Command::Register(args) => return agent_admin::register(args).await,
        Command::Update(args) => return agent_admin::update(args).await,
        Command::Rotate(args) => return agent_admin::rotate(args).await,
        Command::Delete(args) => return agent_admin::delete(args).await,
    };
    let Sim::Larry = args.sim;
    let options = sim_options(&args)?;
    let shutdown = crate::shutdown::shutdown_on_signal();
    let options = match &options.identity {
        SimIdentity::Register { name } => {
            // Print the new agent's credentials before it starts working: they are shown once.
            let registered = planexec_sim::register(&options, name).await?;
            say!(
                "registered agent {} ({}); token: {}",
                registered.agent.id,
                registered.agent.name,
                registered.token
            );
            SimOptions {
                identity: SimIdentity::Existing {
                    agent_id: registered.agent.id,
                    token: registered.token,
                },
                ..options
            }
        }
        SimIdentity::Existing { .. } => options,
    };
    // The SDK gives handlers their own grace (30 s unless set); this bound only catches a
    // shutdown that hangs beyond it.
    let grace = options.shutdown_grace.unwrap_or(Duration::from_secs(30)) + Duration::from_secs(15);
    let report = shutdown
        .bounded(
            Box::pin(planexec_sim::run(options, shutdown.token.clone())),
            grace,
        )
        .await??;
    tracing::info!(seed = report.seed, tasks = ?report.agent, lines = report.event_log_lines, "Larry stopped");
    Ok(())
}

/// The simulator's options from the flags (and `PLANEXE_OPERATOR_TOKEN` for registration).
pub fn sim_options(args: &RunArgs) -> anyhow::Result<SimOptions> {
    let identity = match (&args.agent_id, &args.token, &args.name) {
        (Some(agent_id), Some(token), _) => SimIdentity::Existing {
            agent_id: *agent_id,
            token: token.clone(),
        },
        (None, _, Some(name)) => SimIdentity::Register { name: name.clone() },
        _ => anyhow::bail!(
            "give --agent-id and --token of a registered agent, or --name to register a new one"
        ),
    };
    let nats_url = args
        .nats
        .clone()
        .or_else(|| std::env::var("NATS_URL").ok().filter(|u| !u.is_empty()));
    anyhow::ensure!(
        args.transport != TransportKind::Nats || nats_url.is_some(),
        "the NATS transport needs --nats URL (or PLANEXE_NATS_URL)"
    );
    anyhow::ensure!(
        args.transport != TransportKind::Http || args.gateway.is_some(),
        "the HTTP transport needs --gateway URL (or PLANEXE_GATEWAY_URL)"
    );
    let mut capabilities: Vec<String> = planexec_schemas::agent::capability::LARRY
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    capabilities.push(planexec_schemas::agent::capability::HUMAN_REVIEW.to_owned());
    Ok(SimOptions {
        transport: match args.transport {
            TransportKind::Nats => SimTransport::Nats,
            TransportKind::Http => SimTransport::Http,
        },
        nats_url,
        nats_creds: args.nats_creds.clone(),
        gateway_url: args.gateway.clone(),
        identity,
        operator_token: std::env::var("PLANEXE_OPERATOR_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        namespace: Namespace::new(&args.nats_namespace).map_err(anyhow::Error::msg)?,
        event_log: args.event_log.clone(),
        time_scale: args.time_scale,
        failure_rate: args.failure_rate,
        concurrency: args.concurrency,
        seed: args.seed,
        capabilities,
        max_backoff: Some(std::time::Duration::from_secs(
            args.poll_interval_seconds.max(1),
        )),
        ..SimOptions::default()
    })
}
