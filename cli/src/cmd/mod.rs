//! One module per subcommand.

pub mod agent;
pub mod coordinator;
pub mod demo;
pub mod exec;
pub mod gateway;
pub mod loadgen;
pub mod mcp;
pub mod migrate;
pub mod nats;
pub mod plan;
pub mod up;
