//! `planexec`: runs PlanExe plans with agents.
//!
//! A thin shell over the library crates: `up` (everything in one process), `coordinator` and
//! `gateway` (one role each, for scale-out), `migrate`, `plan import`, `agent run`, `exec`, `events archive`, `loadgen`, `mcp`.
//! Settings come from flags, the environment and `.env` (see `.env.developer-example`).
//!
//! - `cmd`: one module per subcommand.
//! - `serve`: the one start-up path of `up`, `coordinator` and `gateway`; `shutdown`: how they
//!   stop.
//! - `settings`: flags and environment; `stack`: the servers, pool and NATS connection;
//!   `token`: the operator's token; `client`: the API client of the client subcommands;
//!   `telemetry`: logging.

/// `println!` for what the CLI prints: a closed stdout (`planexec agent rotate ... | head -1`)
/// ends the process quietly, as it ends `cat`, rather than in a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cmd::output::say(format_args!($($arg)*))
    };
}

mod client;
mod cmd;
mod serve;
mod settings;
mod shutdown;
mod stack;
mod token;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// The coordinator allocates per batch (rows, states, JSON); mimalloc makes that much cheaper
/// than glibc's allocator under many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "planexec",
    version,
    about = "Runs the project plans that PlanExe writes, with agents."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything: coordinator and gateway, with PostgreSQL and NATS (private ones if none).
    Up(cmd::up::Args),
    /// Run one coordinator replica.
    Coordinator(cmd::coordinator::Args),
    /// Run one gateway replica (the HTTP API).
    Gateway(cmd::gateway::Args),
    /// Apply or revert database migrations.
    Migrate(cmd::migrate::Args),
    /// Import plans.
    #[command(subcommand)]
    Plan(cmd::plan::Command),
    /// Run agents (the Larry simulator).
    #[command(subcommand)]
    Agent(cmd::agent::Command),
    /// Set up NATS with authentication.
    #[command(subcommand)]
    Nats(cmd::nats::Command),
    /// Create, inspect and control executions.
    #[command(subcommand)]
    Exec(cmd::exec::Command),
    /// Maintain the event history (archive what ended long ago).
    #[command(subcommand)]
    Events(cmd::events::Command),
    /// Serve planexec's tools to an AI assistant over MCP on stdio (a client of a gateway).
    Mcp(cmd::mcp::Args),
    /// Measure a running planexec (and, with --baseline, its PostgreSQL and JetStream).
    Loadgen(cmd::loadgen::Args),
    /// Print a shell completion script (`planexec completion bash > /etc/bash_completion.d/planexec`).
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    // `.env` first, never overriding the environment (as PlanExe does).
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if let Command::Completion { shell } = cli.command {
        // Written whole, so that a closed pipe (`| head`) is not a panic.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "planexec", &mut script);
        let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
        return ExitCode::SUCCESS;
    }
    let service = match &cli.command {
        Command::Up(_) => "planexec",
        Command::Coordinator(_) => "planexec-coordinator",
        Command::Gateway(_) => "planexec-gateway",
        Command::Agent(_) => "planexec-agent",
        _ => "planexec-cli",
    };
    // Kept to the end of main: dropping it sends the spans not yet exported.
    let _telemetry = planexec_telemetry::init(service);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => cmd::up::run(args).await,
            Command::Coordinator(args) => cmd::coordinator::run(args).await,
            Command::Gateway(args) => cmd::gateway::run(args).await,
            Command::Migrate(args) => cmd::migrate::run(args).await,
            Command::Plan(command) => cmd::plan::run(command).await,
            Command::Agent(command) => cmd::agent::run(command).await,
            Command::Nats(command) => cmd::nats::run(command).await,
            Command::Exec(command) => cmd::exec::run(command).await,
            Command::Events(command) => cmd::events::run(command).await,
            Command::Loadgen(args) => cmd::loadgen::run(args).await,
            Command::Completion { .. } => Ok(()),
            Command::Mcp(args) => cmd::mcp::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
