//! The wire contract of planexec: every type that crosses a process boundary.
//!
//! Agents, the coordinator, the gateway and the CLI talk only through these types, as JSON.
//! The crate holds data and its validation rules, nothing that does I/O, so any process (or a
//! foreign agent reading `schemas/json/`) can depend on it.
//!
//! - [`agent`]: agents, their capabilities and liveness.
//! - [`admin`]: the operator's figures (`GET /api/admin/metrics`).
//! - [`plan`]: imported plans (phases, tasks, subtasks, dependencies) and the plan document.
//! - [`decomposition`]: a decomposed plan, as the importer makes it and the store writes it.
//! - [`execution`]: executions, their tasks and the status enums of the state machine.
//! - [`event`]: what agents report and what the coordinator records as history.
//! - [`task`]: what the coordinator hands to an agent (assignments, cancels, retry policy).
//! - [`command`]: NATS request/reply commands to the coordinator and their typed errors.
//! - [`api`]: HTTP request and response bodies of the gateway.
//! - [`mcp`]: the inputs and outputs of the MCP server's tools.
//! - [`update`]: compact live updates published per execution.
//! - [`webhook`]: webhook subscriptions, notifications and deliveries.
//! - [`subjects`]: NATS subject and stream names.
//! - [`validate`]: field-level validation shared by the gateway and the coordinator, and the
//!   `FieldError` every rule reports (its own module, so the bodies that carry it need not
//!   import the rules that check them).
//!
//! [`json_schemas`] and [`asyncapi`] describe the wire for other languages (`schemas/json/`,
//! `schemas/asyncapi.json`).

pub mod admin;
pub mod agent;
pub mod api;
pub mod command;
pub mod decomposition;
pub mod event;
pub mod execution;
mod field_error;
pub mod mcp;
pub mod notice;
pub mod plan;
pub mod subjects;
pub mod task;
pub mod update;
pub mod validate;
pub mod webhook;

mod asyncapi;
mod json_schema;

pub use asyncapi::{asyncapi, referenced_schemas};
pub use json_schema::{json_schemas, render as render_json_schema, schema_id};

/// Identifiers are UUIDs everywhere; new ones are version 7 (time-ordered).
pub type Id = uuid::Uuid;

/// A fresh time-ordered identifier.
pub fn new_id() -> Id {
    uuid::Uuid::now_v7()
}

/// Timestamps on the wire are RFC 3339 in UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
