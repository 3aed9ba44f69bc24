//! planexec as an MCP server, so that an AI assistant can be an agent (or an operator) with no
//! code of its own.
//!
//! The tools are clients of planexec's HTTP API: `planexec mcp` reaches a gateway over the
//! network and speaks MCP on stdio; the gateway serves the same tools at `/mcp` (streamable
//! HTTP) and reaches its own API in process. Either way the caller's token decides what it
//! may do, exactly as on the API.
//!
//! - [`api`]: the way to the API ([`Api`], [`HttpApi`]).
//! - [`tools`]: the catalogue: names, descriptions, input schemas (from the schemas crate).
//! - [`agent`]: `next_task`, `report_progress`, `complete_task`, `fail_task`.
//! - [`operator`]: the execution tools.
//! - [`server`]: [`PlanexecMcp`], the MCP server handler.
//! - [`error`]: what a tool call can run into.

pub mod agent;
pub mod api;
pub mod error;
pub mod operator;
pub mod server;
pub mod tools;

pub use api::{Api, ApiRequest, ApiResponse, HttpApi, Verb};
pub use error::Error;
pub use server::PlanexecMcp;
