//! `planexec gateway`: one gateway replica (stateless; run as many as needed).

use anyhow::Context as _;
use planexec_gateway::AppState;

use crate::settings::{ConnectionArgs, DataDirArgs, GatewayArgs, ShutdownArgs};
use crate::stack;

/// Serves the HTTP API (the coordinators must be running for anything that changes state).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub connections: ConnectionArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
    #[command(flatten)]
    pub gateway: GatewayArgs,
    #[command(flatten)]
    pub data: DataDirArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let connections = args.connections.resolve()?;
    let (database_url, nats_url) = stack::configured(&connections);
    let pool = stack::pool(&database_url, 16).await?;
    anyhow::ensure!(
        !planexec_store::applied_migrations(&pool).await?.is_empty(),
        "the database has no schema yet: run `planexec migrate up` (or start a coordinator) first"
    );
    let nats = stack::nats(&nats_url, connections.nats_creds.as_deref()).await?;
    let token = stack::existing_operator_token(
        args.gateway.operator_token.as_deref(),
        &args.data.data_dir,
    )?;
    let options = args
        .gateway
        .options(&connections.namespace, &token, super::metrics())?;
    let listener = tokio::net::TcpListener::bind(args.gateway.listen)
        .await
        .with_context(|| format!("listening on {}", args.gateway.listen))?;
    println!("planexec gateway at http://{}", listener.local_addr()?);
    let shutdown = super::shutdown_on_signal();
    let served = planexec_gateway::serve(
        listener,
        AppState::new(pool, nats, options),
        shutdown.token.clone(),
    );
    shutdown.bounded(served, args.shutdown.grace()).await??;
    Ok(())
}
