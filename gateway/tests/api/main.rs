//! The HTTP API against a running gateway, with a real coordinator, NATS and PostgreSQL.

mod agents;
mod conductor;
mod events;
mod executions;
mod misc;
mod plans;
mod stream;
mod strict_json;
mod support;
