//! `planexec coordinator`: one coordinator replica (run several for scale and availability).

use planexec_coordinator::Coordinator;

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
    let pool = stack::pool(&database_url, 16).await?;
    // Migrating here is safe with several replicas: the migrator takes an advisory lock.
    stack::migrate(&pool).await?;
    let nats = stack::nats(&nats_url, connections.nats_creds.as_deref()).await?;
    let metrics = super::metrics();
    let options = args.execution.options(&connections.namespace)?;
    let coordinator = Coordinator::start(pool, nats, options).await?;
    let shutdown = super::shutdown_on_signal();
    if let (Some(address), Some(handle)) = (args.metrics_listen, metrics) {
        let listener = tokio::net::TcpListener::bind(address).await?;
        println!(
            "coordinator metrics at http://{}/metrics",
            listener.local_addr()?
        );
        let app = axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(move || std::future::ready(handle.render())),
            )
            .route("/healthz", axum::routing::get(|| std::future::ready("ok")));
        let stop = shutdown.token.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await });
            if let Err(e) = served.await {
                tracing::warn!(error = %e, "the metrics endpoint stopped");
            }
        });
    }
    shutdown
        .bounded(
            coordinator.run(shutdown.token.clone()),
            args.shutdown.grace(),
        )
        .await
}
