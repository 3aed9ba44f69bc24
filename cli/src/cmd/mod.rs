//! One module per subcommand.

pub mod agent;
pub mod coordinator;
pub mod demo;
pub mod exec;
pub mod gateway;
pub mod loadgen;
pub mod migrate;
pub mod plan;
pub mod up;

use tokio_util::sync::CancellationToken;

/// A token cancelled on SIGINT or SIGTERM: every role stops taking work and finishes what it has.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::info!("shutting down: finishing the work in progress");
        cancel.cancel();
    });
    token
}

/// Installs the process's Prometheus recorder (once) and returns its handle.
pub fn metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| tracing::warn!(error = %e, "metrics are off"))
        .ok()
}
