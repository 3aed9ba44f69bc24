//! `planexec up`: the coordinator and the gateway in one process, with the servers they need.

use anyhow::Context as _;
use secrecy::ExposeSecret;

use crate::serve::{Connect, Process, Roles, Schema};
use crate::settings::{
    ConnectionArgs, DataDirArgs, ExecutionArgs, GatewayArgs, ShutdownArgs, redact,
};
use crate::{stack, token};

/// Runs everything: connects to PostgreSQL and NATS (or starts private ones from PATH in the data
/// folder when none is reachable), applies migrations, and serves the API.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub connections: ConnectionArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
    #[command(flatten)]
    pub data: DataDirArgs,
    #[command(flatten)]
    pub gateway: GatewayArgs,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Also import the prospecting plan, start the Larry simulator and run the plan live.
    #[arg(long, env = "PLANEXE_DEMO")]
    pub demo: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let connections = args.connections.resolve()?;
    let data_dir = args.data.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let servers = stack::for_up(&connections, &data_dir).await?;
    let process = Process::connect(Connect {
        database_url: &servers.database_url,
        nats_url: &servers.nats_url,
        nats_creds: servers
            .nats_auth
            .as_ref()
            .map(|auth| auth.service_creds.as_path())
            .or(connections.nats_creds.as_deref()),
        max_connections: 32,
        schema: Schema::Migrate,
    })
    .await?;
    let (token, made) = token::operator_token(args.gateway.operator_token.as_deref(), &data_dir)?;
    let gateway = args
        .gateway
        .options(&connections.namespace, &token, process.metrics.clone())?;
    let listener = tokio::net::TcpListener::bind(args.gateway.listen)
        .await
        .with_context(|| {
            format!(
                "listening on {} (set --listen or PLANEXE_LISTEN)",
                args.gateway.listen
            )
        })?;
    let url = format!("http://{}", listener.local_addr()?);
    let mut coordinator = args
        .execution
        .options(&connections.namespace, &servers.nats_url)?;
    if let Some(auth) = &servers.nats_auth {
        coordinator.nats_auth = Some(planexec_coordinator::NatsAuthOptions {
            account: auth.account.clone(),
            signing_key_file: auth.account_signing_key.clone(),
            operator_signing_key_file: Some(auth.operator_signing_key.clone()),
            system_creds: Some(auth.system_creds.clone()),
            servers: servers.nats_url.clone(),
        });
    }
    let started = process
        .start(Roles {
            coordinator: Some(coordinator),
            gateway: Some((listener, gateway)),
            metrics: None,
        })
        .await?;

    say!("planexec is up at {url}");
    say!("  API        {url}/api (OpenAPI: {url}/api/openapi.json)");
    say!(
        "  PostgreSQL {}{}",
        redact(servers.database_url.expose_secret()),
        private(servers.private_postgres.is_some())
    );
    say!(
        "  NATS       {}{}",
        servers.nats_url,
        private(servers.private_nats.is_some())
    );
    if let Some(auth) = &servers.nats_auth {
        say!(
            "  NATS auth  on; agents get their own credentials when registered (setup in {})",
            auth.env_file.parent().unwrap_or(&data_dir).display()
        );
    }
    match made {
        Some(path) => say!(
            "  operator token (new, kept in {}): {}",
            path.display(),
            token.expose_secret()
        ),
        None if args.gateway.operator_token.is_some() => {
            say!("  operator token: from PLANEXE_OPERATOR_TOKEN")
        }
        None => say!(
            "  operator token: in {}",
            data_dir.join(token::OPERATOR_TOKEN_FILE).display()
        ),
    }
    match token::save_for_cli(&token) {
        Ok(Some(path)) => say!(
            "  the CLI finds the token from any folder: {}",
            path.display()
        ),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "the CLI's copy of the operator token was not saved"),
    }

    let stopped = started
        .serve(args.shutdown.grace(), |stop| {
            if args.demo {
                tokio::spawn(super::demo::run(url.clone(), token.clone(), stop));
            }
        })
        .await;
    // Private servers stop here, however the roles ended.
    drop(servers);
    stopped
}

fn private(yes: bool) -> &'static str {
    if yes {
        " (private, in the data folder)"
    } else {
        ""
    }
}
