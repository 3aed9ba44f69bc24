//! The HTTP API against a running gateway, with a real coordinator, NATS and PostgreSQL.

mod agent_admin;
mod agents;
mod archive;
mod commands;
mod conductor;
mod events;
mod executions;
mod misc;
mod observe;
mod outages;
mod plans;
mod stream;
mod strict_json;
mod support;
