//! `planexec coordinator`: one coordinator replica (run several for scale and availability).

use planexec_coordinator::Coordinator;

use crate::settings::{ConnectionArgs, ExecutionArgs};
use crate::stack;

/// Runs a coordinator replica: ingests events, answers commands, fires deadlines.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub connections: ConnectionArgs,
    #[command(flatten)]
    pub execution: ExecutionArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let connections = args.connections.resolve()?;
    let (database_url, nats_url) = stack::configured(&connections);
    let pool = stack::pool(&database_url, 16).await?;
    // Migrating here is safe with several replicas: the migrator takes an advisory lock.
    stack::migrate(&pool).await?;
    let nats = stack::nats(&nats_url).await?;
    let _metrics = super::metrics();
    let coordinator =
        Coordinator::start(pool, nats, args.execution.options(&connections.namespace)?).await?;
    coordinator.run(super::shutdown_on_signal()).await;
    Ok(())
}
