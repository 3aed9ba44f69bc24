//! One module per subcommand.

pub mod agent;
pub mod agent_admin;
pub mod coordinator;
pub mod demo;
pub mod events;
pub mod exec;
pub mod gateway;
pub mod loadgen;
pub mod mcp;
pub mod migrate;
pub mod nats;
pub mod output;
pub mod plan;
pub mod tasks;
pub mod up;
pub mod watch;
