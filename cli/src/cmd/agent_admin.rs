//! `planexec agent list|show|register|update|rotate|delete`: the operator's side of agents,
//! through the API. A registration or rotation prints the token once and can write the agent's NATS
//! credentials to a file (mode 0600).

use std::path::{Path, PathBuf};

use planexec_schemas::Id;
use planexec_schemas::agent::{Agent, AgentStatus};
use planexec_schemas::api::{AgentList, RegisterAgentRequest, RegisteredAgent, UpdateAgentRequest};

use super::output::{Output, Table};
use crate::client::ApiClient;
use crate::settings::ClientArgs;

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only agents with this status.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<AgentStatus>,
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    pub agent_id: Id,
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// The agent's name, e.g. `larry`.
    #[arg(long)]
    pub name: String,
    /// Free text, `assistant` by default.
    #[arg(long, default_value = "assistant")]
    pub role: String,
    /// Its capabilities, comma-separated (e.g. `send_email,draft_document`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub capabilities: Vec<String>,
    /// Write the agent's NATS credentials here (when NATS has authentication).
    #[arg(long)]
    pub creds_out: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    pub agent_id: Id,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub role: Option<String>,
    /// The whole new list, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub capabilities: Option<Vec<String>>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    pub agent_id: Id,
    /// Write the agent's new NATS credentials here.
    #[arg(long)]
    pub creds_out: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    pub agent_id: Id,
    #[command(flatten)]
    pub client: ClientArgs,
}

fn parse_status(text: &str) -> Result<AgentStatus, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| "use `online` or `offline`".into())
}

pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.client.gateway, args.client.token()?)?;
    let path = match args.status {
        Some(status) => format!("/api/agents?status={}", status.as_str()),
        None => "/api/agents".to_owned(),
    };
    let list: AgentList = client.get(&path).await?;
    if args.output == Output::Json {
        return args.output.print_json(&list.agents);
    }
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "ROLE",
        "STATUS",
        "LAST HEARTBEAT",
        "CAPABILITIES",
    ]);
    for a in &list.agents {
        table.row([
            a.id.to_string(),
            a.name.clone(),
            a.role.clone(),
            a.status.as_str().to_owned(),
            heartbeat(a),
            a.capabilities.join(","),
        ]);
    }
    table.print();
    Ok(())
}

pub async fn show(args: ShowArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.client.gateway, args.client.token()?)?;
    let agent: Agent = client
        .get(&format!("/api/agents/{}", args.agent_id))
        .await?;
    if args.output == Output::Json {
        return args.output.print_json(&agent);
    }
    say!("agent {}  {}  ({})", agent.id, agent.name, agent.role);
    say!("  status:         {}", agent.status.as_str());
    say!("  last heartbeat: {}", heartbeat(&agent));
    say!(
        "  registered:     {}",
        agent.created_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    say!("  capabilities:   {}", agent.capabilities.join(", "));
    Ok(())
}

fn heartbeat(agent: &Agent) -> String {
    agent.last_heartbeat.map_or_else(
        || "never".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

pub async fn register(args: RegisterArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.client.gateway, args.client.token()?)?;
    let request = RegisterAgentRequest {
        name: args.name,
        role: args.role,
        capabilities: args.capabilities,
    };
    let registered: RegisteredAgent = client.post("/api/agents", &request).await?;
    print_credentials("registered", &registered, args.creds_out.as_deref())
}

pub async fn update(args: UpdateArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.client.gateway, args.client.token()?)?;
    let request = UpdateAgentRequest {
        name: args.name,
        role: args.role,
        capabilities: args.capabilities,
    };
    let agent: Agent = client
        .patch(&format!("/api/agents/{}", args.agent_id), &request)
        .await?;
    say!(
        "agent {} ({}, {}): {}",
        agent.id,
        agent.name,
        agent.role,
        agent.capabilities.join(", ")
    );
    Ok(())
}

pub async fn rotate(args: RotateArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.client.gateway, args.client.token()?)?;
    let rotated: RegisteredAgent = client
        .post(
            &format!("/api/agents/{}/token", args.agent_id),
            &serde_json::json!({}),
        )
        .await?;
    print_credentials("new credentials for", &rotated, args.creds_out.as_deref())
}

pub async fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let client = ApiClient::new(&args.client.gateway, args.client.token()?)?;
    client
        .delete(&format!("/api/agents/{}", args.agent_id))
        .await?;
    say!(
        "agent {} deleted; its token and NATS credentials no longer work",
        args.agent_id
    );
    Ok(())
}

fn print_credentials(
    what: &str,
    agent: &RegisteredAgent,
    creds_out: Option<&Path>,
) -> anyhow::Result<()> {
    say!("{what} agent {} ({})", agent.agent.id, agent.agent.name);
    say!("  token (shown once): {}", agent.token);
    match (&agent.nats_credentials, creds_out) {
        (Some(creds), Some(path)) => {
            write_secret(path, creds)?;
            say!("  NATS credentials written to {}", path.display());
        }
        (Some(_), None) => {
            say!("  NATS credentials: returned, not kept (pass --creds-out FILE to keep them)")
        }
        (None, _) => say!("  NATS credentials: none (this NATS takes no credentials)"),
    }
    Ok(())
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
