//! [`PlanexecMcp`]: the MCP server handler. It lists the tools the caller's token allows and
//! runs them; every failure is a tool result with `isError: true` the assistant can read.

use std::sync::Arc;

use planexec_schemas::agent::token;
use planexec_schemas::execution::ExecutionStatus;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Extensions, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::agent::{AgentTools, Claimed};
use crate::api::Api;
use crate::error::Error;
use crate::operator::OperatorTools;
use crate::tools::{Role, catalogue};

/// Where the caller's token comes from.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// One token for the whole session (`planexec mcp --token`).
    Fixed(String),
    /// Read from each request (the bearer token of an HTTP request to `/mcp`).
    PerRequest(fn(&Extensions) -> Option<String>),
}

/// The MCP server of planexec over an [`Api`].
#[derive(Debug)]
pub struct PlanexecMcp<A> {
    api: Arc<A>,
    credentials: Credentials,
    claimed: Claimed,
}

impl<A> Clone for PlanexecMcp<A> {
    fn clone(&self) -> Self {
        Self {
            api: self.api.clone(),
            credentials: self.credentials.clone(),
            claimed: self.claimed.clone(),
        }
    }
}

impl<A: Api> PlanexecMcp<A> {
    /// A server calling `api` with `credentials`. Clones share what agents were handed, so
    /// one server per transport session is fine.
    pub fn new(api: Arc<A>, credentials: Credentials) -> Self {
        Self {
            api,
            credentials,
            claimed: Claimed::default(),
        }
    }

    fn token(&self, extensions: &Extensions) -> Result<String, Error> {
        match &self.credentials {
            Credentials::Fixed(token) => Ok(token.clone()),
            Credentials::PerRequest(read) => read(extensions).ok_or(Error::NoToken),
        }
    }

    async fn run(&self, name: &str, args: Value, token: &str) -> Result<Value, Error> {
        let agent = token::agent_of(token);
        let role = if agent.is_some() {
            Role::Agent
        } else {
            Role::Operator
        };
        if !catalogue(role).iter().any(|t| t.name == name) {
            let other = match role {
                Role::Agent => Role::Operator,
                Role::Operator => Role::Agent,
            };
            return Err(if catalogue(other).iter().any(|t| t.name == name) {
                Error::Forbidden(format!(
                    "{name} needs {} token",
                    match other {
                        Role::Agent => "an agent's",
                        Role::Operator => "the operator",
                    }
                ))
            } else {
                Error::Arguments(format!("no tool named {name}"))
            });
        }
        if let Some(agent) = agent {
            let tools = AgentTools {
                api: &*self.api,
                token,
                agent,
                claimed: &self.claimed,
            };
            return match name {
                "next_task" => to_value(tools.next_task(parse(args)?).await?),
                "report_progress" => tools.report_progress(parse(args)?).await,
                "complete_task" => tools.complete_task(parse(args)?).await,
                _ => tools.fail_task(parse(args)?).await,
            };
        }
        let tools = OperatorTools {
            api: &*self.api,
            token,
        };
        match name {
            "list_executions" => tools.list_executions(parse(args)?).await,
            "get_execution" => tools.get_execution(parse(args)?).await,
            "pause_execution" => tools.change(parse(args)?, ExecutionStatus::Paused).await,
            "resume_execution" => tools.change(parse(args)?, ExecutionStatus::Running).await,
            _ => tools.resolve_task(parse(args)?).await,
        }
    }
}

fn parse<T: DeserializeOwned>(args: Value) -> Result<T, Error> {
    serde_json::from_value(args).map_err(|e| Error::Arguments(e.to_string()))
}

fn to_value(value: impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::Unreachable(e.to_string()))
}

impl<A: Api> ServerHandler for PlanexecMcp<A> {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("planexec", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "planexec runs project plans with agents. With an agent token: call next_task, do the task, \
                 then complete_task (or fail_task) with the ids and attempt next_task returned; repeat. With \
                 the operator token: list_executions, get_execution, pause_execution, resume_execution, \
                 resolve_task.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let role = match self.token(&context.extensions) {
            Ok(token) if token::agent_of(&token).is_some() => Role::Agent,
            _ => Role::Operator,
        };
        Ok(ListToolsResult::with_all_items(catalogue(role)))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        let result = match self.token(&context.extensions) {
            Ok(token) => self.run(&request.name, args, &token).await,
            Err(e) => Err(e),
        };
        Ok(match result {
            Ok(value) => CallToolResult::structured(value),
            Err(e) => {
                tracing::debug!(tool = %request.name, error = %e, "tool call failed");
                CallToolResult::structured_error(e.to_value())
            }
        }
        .into())
    }
}
