//! `planexec gateway`: one gateway replica (stateless; run as many as needed).

use anyhow::Context as _;

use crate::serve::{Connect, Process, Roles, Schema};
use crate::settings::{ConnectionArgs, DataDirArgs, GatewayArgs, ShutdownArgs};
use crate::{stack, token};

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
    let process = Process::connect(Connect {
        database_url: &database_url,
        nats_url: &nats_url,
        nats_creds: connections.nats_creds.as_deref(),
        max_connections: 16,
        schema: Schema::Require,
    })
    .await?;
    let token = token::existing_operator_token(
        args.gateway.operator_token.as_deref(),
        &args.data.data_dir,
    )?;
    let options = args
        .gateway
        .options(&connections.namespace, &token, process.metrics.clone())?;
    let listener = tokio::net::TcpListener::bind(args.gateway.listen)
        .await
        .with_context(|| format!("listening on {}", args.gateway.listen))?;
    let address = listener.local_addr()?;
    let started = process
        .start(Roles {
            gateway: Some((listener, options)),
            ..Roles::default()
        })
        .await?;
    say!("planexec gateway at http://{address}");
    started.serve(args.shutdown.grace(), |_| {}).await
}
