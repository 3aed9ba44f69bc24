//! `planexec mcp`: planexec's tools for an AI assistant, as an MCP server on stdio (stdout
//! carries only MCP; logs go to stderr). It is a client of a gateway's HTTP API: with an agent's
//! token the assistant works as that agent, with the operator token it runs executions.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use planexec_mcp::server::Credentials;
use planexec_mcp::{HttpApi, PlanexecMcp};
use rmcp::ServiceExt;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The gateway's base URL.
    #[arg(
        long,
        env = "PLANEXE_GATEWAY_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    gateway: String,
    /// An agent's token (the agent tools) or the operator token (the operator tools).
    #[arg(long, env = "PLANEXE_MCP_TOKEN", hide_env_values = true)]
    token: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    // Longer than the longest wait of `next_task` (30 s) plus a report's round trip.
    let api = HttpApi::new(&args.gateway, Duration::from_secs(90))?;
    let server = PlanexecMcp::new(Arc::new(api), Credentials::Fixed(args.token));
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .context("the MCP handshake on stdio failed")?;
    running.waiting().await.context("the MCP session failed")?;
    Ok(())
}
