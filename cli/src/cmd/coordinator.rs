//! `planexec coordinator`: one coordinator replica (run several for scale and availability).

use crate::serve::{Connect, Process, Roles, Schema};
use crate::settings::{ConnectionArgs, ExecutionArgs, ShutdownArgs};
use crate::stack;

/// Runs a coordinator replica: ingests events, answers commands, fires deadlines.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub connections: ConnectionArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Serve `/metrics` (Prometheus) and `/healthz` on this address (off when unset).
    #[arg(long, env = "PLANEXE_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let connections = args.connections.resolve()?;
    let (database_url, nats_url) = stack::configured(&connections);
    let process = Process::connect(Connect {
        database_url: &database_url,
        nats_url: &nats_url,
        nats_creds: connections.nats_creds.as_deref(),
        max_connections: 16,
        // Safe with several replicas: the migrator takes an advisory lock.
        schema: Schema::Migrate,
    })
    .await?;
    let metrics = match (args.metrics_listen, &process.metrics) {
        (Some(address), Some(_)) => Some(tokio::net::TcpListener::bind(address).await?),
        _ => None,
    };
    let metrics_address = metrics.as_ref().map(|l| l.local_addr()).transpose()?;
    let started = process
        .start(Roles {
            coordinator: Some(args.execution.options(&connections.namespace, &nats_url)?),
            gateway: None,
            metrics,
        })
        .await?;
    if let Some(address) = metrics_address {
        println!("coordinator metrics at http://{address}/metrics");
    }
    started.serve(args.shutdown.grace(), |_| {}).await
}
