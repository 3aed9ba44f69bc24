//! One module per subcommand.

pub mod agent;
pub mod coordinator;
pub mod demo;
pub mod exec;
pub mod gateway;
pub mod loadgen;
pub mod migrate;
pub mod nats;
pub mod plan;
pub mod up;

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The process's stop signals. The first SIGINT or SIGTERM cancels `token`: every role stops
/// taking work and finishes what it has. A second one stops waiting for that.
pub struct Shutdown {
    pub token: CancellationToken,
    forced: CancellationToken,
}

pub fn shutdown_on_signal() -> Shutdown {
    let token = CancellationToken::new();
    let forced = CancellationToken::new();
    let (cancel, force) = (token.clone(), forced.clone());
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        for signal in 0..2 {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
            if signal == 0 {
                tracing::info!(
                    "shutting down: finishing the work in progress (a second signal stops at once)"
                );
                cancel.cancel();
            } else {
                force.cancel();
            }
        }
    });
    Shutdown { token, forced }
}

impl Shutdown {
    /// Runs `work`, which ends by itself once `token` is cancelled. From then on it gets at most
    /// `grace` (or until a second signal): a server whose database or NATS is gone must still stop.
    pub async fn bounded<F: Future>(&self, work: F, grace: Duration) -> anyhow::Result<F::Output> {
        tokio::pin!(work);
        tokio::select! {
            output = &mut work => return Ok(output),
            _ = self.token.cancelled() => {}
        }
        tokio::select! {
            output = &mut work => Ok(output),
            _ = tokio::time::sleep(grace) => anyhow::bail!(
                "the work in progress did not finish within {} s of the stop signal; stopped anyway \
                 (nothing is lost: what was not acknowledged is redelivered)",
                grace.as_secs()
            ),
            _ = self.forced.cancelled() => anyhow::bail!(
                "stopped by a second signal before the work in progress finished \
                 (nothing is lost: what was not acknowledged is redelivered)"
            ),
        }
    }
}

/// Installs the process's Prometheus recorder (once) and returns its handle.
pub fn metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| tracing::warn!(error = %e, "metrics are off"))
        .ok()
}
