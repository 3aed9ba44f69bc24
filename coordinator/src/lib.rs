//! The coordinator: consumes agent events from JetStream, drives the state machine, persists
//! every event and transition to PostgreSQL, and publishes tasks to agents.

pub mod machine;
