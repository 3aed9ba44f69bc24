//! `planexec agent run --sim larry`: the Larry simulator, an agent built on the public SDK.

use std::path::PathBuf;

use planexec_schemas::Id;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run a simulated agent until interrupted.
    Run(RunArgs),
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
    let Command::Run(args) = command;
    anyhow::bail!("the simulator is not wired in yet ({:?})", args.sim)
}
