//! The SDK against a real coordinator on real nats-server and PostgreSQL.

mod delivery;
mod flow;
mod http;
mod lifecycle;
mod proxy;
mod register;
mod support;
