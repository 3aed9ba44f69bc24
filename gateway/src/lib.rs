//! The gateway: the HTTP edge of planexec for operators and for agents without NATS.
//!
//! It reads PostgreSQL directly and asks the coordinators over NATS for everything that changes
//! an execution (it never writes execution state). It long-polls agents' task queues on their
//! behalf, serves the OpenAPI document generated from its routes, and Prometheus metrics.
//!
//! - [`routes`]: the API, one module per resource, and the layers around it.
//! - [`auth`]: operator and agent tokens.
//! - [`error`]: every failure as application/problem+json.
//! - [`extract`], [`responses`], [`docs`]: input, output and their documentation.
//! - [`coordinator`]: the command client; [`report`]: agents' events, for every route that
//!   takes them; [`handout`]: tasks handed out over HTTP, leased until their agent reports.
//! - [`stream`]: live views over WebSockets; [`pages`]: the dashboard.
//! - [`mcp`]: the MCP tools over streamable HTTP at `/mcp`.
//! - [`state`], [`options`]; [`callbacks`]: Conductor tasks to offer again later.

pub mod auth;
pub mod breaker;
pub mod callbacks;
pub mod coordinator;
pub mod docs;
pub mod error;
pub mod extract;
pub mod handout;
pub mod mcp;
pub mod options;
pub mod pages;
pub mod report;
pub mod responses;
pub mod routes;
pub mod state;
pub mod stream;

pub use options::GatewayOptions;
pub use routes::{app, openapi};
pub use state::AppState;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves the API on `listener` until `shutdown`, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = app(state);
    tracing::info!(address = %listener.local_addr()?, "gateway listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
