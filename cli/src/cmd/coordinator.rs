//! `planexec coordinator`: one coordinator replica (run several for scale and availability).

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::TcpListener;

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
    /// Serve `/metrics` (Prometheus), `/healthz` and `/readyz` on this address; `off` serves
    /// none. Unset: 127.0.0.1:9464, or none (with a warning) when that port is taken, so that
    /// several replicas can share a host.
    #[arg(long, env = "PLANEXE_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
}

/// Where metrics are served when nothing says otherwise.
const DEFAULT_METRICS: &str = "127.0.0.1:9464";

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
    let metrics = match &process.metrics {
        Some(_) => metrics_listener(args.metrics_listen.as_deref()).await?,
        None => None,
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
        say!("coordinator metrics at http://{address}/metrics");
    }
    started.serve(args.shutdown.grace(), |_| {}).await
}

/// Where the coordinator serves its metrics and probes, when it does.
async fn metrics_listener(configured: Option<&str>) -> anyhow::Result<Option<TcpListener>> {
    let Some(text) = configured.map(str::trim) else {
        return Ok(match TcpListener::bind(DEFAULT_METRICS).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::warn!(address = DEFAULT_METRICS, error = %e, "no metrics endpoint: the default port is taken (set PLANEXE_METRICS_LISTEN)");
                None
            }
        });
    };
    if matches!(text, "" | "off" | "none") {
        return Ok(None);
    }
    let address: SocketAddr = text.parse().map_err(|e| {
        anyhow::anyhow!(
            "PLANEXE_METRICS_LISTEN {text:?} is not an address (host:port) or `off`: {e}"
        )
    })?;
    let listener = TcpListener::bind(address).await.with_context(|| {
        format!("cannot serve metrics on {address} (set PLANEXE_METRICS_LISTEN to a free port, or `off`)")
    })?;
    Ok(Some(listener))
}
