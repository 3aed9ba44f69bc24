//! The coordinator against real nats-server and PostgreSQL.

mod archive;
mod delivery;
mod flow;
mod hardening;
mod replicas;
mod streams;
mod support;
mod webhooks;
