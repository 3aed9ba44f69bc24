//! The one start-up path of the server subcommands (`up`, `coordinator`, `gateway`).
//!
//! Each subcommand finds its servers and builds its options, then: [`Process::connect`] (the
//! database pool, its schema migrated or checked, NATS, the metrics recorder),
//! [`Process::start`] the roles it runs (a coordinator's streams and subscriptions exist when
//! this returns), and [`Started::serve`] them until a stop signal, within the grace.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use metrics_exporter_prometheus::PrometheusHandle;
use planexec_coordinator::Coordinator;
use planexec_gateway::{AppState, GatewayOptions};
use secrecy::SecretString;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::shutdown::shutdown_on_signal;
use crate::stack;

/// What a process does with the database's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Apply pending migrations (safe with several replicas: the migrator takes a lock).
    Migrate,
    /// Refuse to start on a database without the schema (the gateway never migrates).
    Require,
}

/// Where a server process connects.
#[derive(Debug)]
pub struct Connect<'a> {
    pub database_url: &'a SecretString,
    pub nats_url: &'a str,
    pub nats_creds: Option<&'a Path>,
    pub max_connections: u32,
    pub schema: Schema,
}

/// How long the coordinator's work waits for a database connection before it fails and is
/// retried (ingestion, the scheduler, commands).
const COORDINATOR_ACQUIRE: Duration = Duration::from_secs(5);

/// How long an HTTP request waits for a database connection: with PostgreSQL down, the API
/// answers 503 within about this long (and at once while its circuit breaker is open).
const API_ACQUIRE: Duration = Duration::from_millis(1500);

/// The connections of a server process.
#[derive(Debug)]
pub struct Process {
    pub pool: PgPool,
    /// The gateway's own pool, quick to give up (see [`API_ACQUIRE`]).
    pub api_pool: PgPool,
    pub nats: async_nats::Client,
    /// The process's Prometheus recorder, when it could be installed.
    pub metrics: Option<PrometheusHandle>,
}

/// The roles a process runs.
#[derive(Debug, Default)]
pub struct Roles {
    pub coordinator: Option<planexec_coordinator::Options>,
    /// The gateway's listener and options.
    pub gateway: Option<(TcpListener, GatewayOptions)>,
    /// Where a process without a gateway serves `/metrics`, `/healthz` and `/readyz`.
    pub metrics: Option<TcpListener>,
}

/// Roles started, not yet serving.
#[derive(Debug)]
pub struct Started {
    coordinator: Option<Coordinator>,
    gateway: Option<(TcpListener, AppState)>,
    metrics: Option<(TcpListener, PrometheusHandle, Probes)>,
}

/// What `/readyz` checks: the connections of the process.
#[derive(Debug, Clone)]
struct Probes {
    pool: PgPool,
    nats: async_nats::Client,
}

impl Process {
    /// Connects to the database and NATS (each waited for up to 30 s) and installs the metrics
    /// recorder.
    pub async fn connect(to: Connect<'_>) -> anyhow::Result<Self> {
        let pool = stack::pool(to.database_url, to.max_connections, COORDINATOR_ACQUIRE).await?;
        let api_pool = stack::pool(to.database_url, to.max_connections, API_ACQUIRE).await?;
        match to.schema {
            Schema::Migrate => stack::migrate(&pool).await?,
            Schema::Require => anyhow::ensure!(
                !planexec_store::applied_migrations(&pool).await?.is_empty(),
                "the database has no schema yet: run `planexec migrate up` (or start a coordinator) first"
            ),
        }
        let nats = stack::nats(to.nats_url, to.nats_creds).await?;
        Ok(Self {
            pool,
            api_pool,
            nats,
            metrics: metrics(),
        })
    }

    /// Starts `roles`: the coordinator makes its streams and subscribes to commands.
    pub async fn start(&self, roles: Roles) -> anyhow::Result<Started> {
        let coordinator = match roles.coordinator {
            Some(options) => {
                Some(Coordinator::start(self.pool.clone(), self.nats.clone(), options).await?)
            }
            None => None,
        };
        let gateway = roles.gateway.map(|(listener, options)| {
            let state = AppState::new(self.api_pool.clone(), self.nats.clone(), options);
            (listener, state)
        });
        let probes = Probes {
            pool: self.pool.clone(),
            nats: self.nats.clone(),
        };
        let metrics = roles
            .metrics
            .zip(self.metrics.clone())
            .map(|(listener, handle)| (listener, handle, probes));
        Ok(Started {
            coordinator,
            gateway,
            metrics,
        })
    }
}

impl Started {
    /// Serves until a stop signal, then lets the work in progress finish within `grace`.
    /// `beside` is started with the stop token, to run alongside the roles (`up --demo`).
    pub async fn serve(
        self,
        grace: Duration,
        beside: impl FnOnce(CancellationToken),
    ) -> anyhow::Result<()> {
        let shutdown = shutdown_on_signal();
        let stop = shutdown.token.clone();
        if let Some((listener, handle, probes)) = self.metrics {
            tokio::spawn(serve_metrics(listener, handle, probes, stop.clone()));
        }
        let coordinator = self.coordinator.map(|c| tokio::spawn(c.run(stop.clone())));
        beside(stop.clone());
        let roles = async move {
            let served = match self.gateway {
                Some((listener, state)) => {
                    let served = planexec_gateway::serve(listener, state, stop.clone()).await;
                    // A gateway that stopped, for whatever reason, stops the process.
                    stop.cancel();
                    Some(served)
                }
                None => None,
            };
            if let Some(coordinator) = coordinator {
                coordinator
                    .await
                    .context("the coordinator stopped abnormally")?;
            }
            served
                .transpose()
                .context("the gateway stopped abnormally")?;
            anyhow::Ok(())
        };
        shutdown.bounded(roles, grace).await?
    }
}

/// `/metrics` (Prometheus), `/healthz` (the process is up) and `/readyz` (PostgreSQL and NATS
/// are reachable; 503 otherwise) for a process without a gateway.
async fn serve_metrics(
    listener: TcpListener,
    handle: PrometheusHandle,
    probes: Probes,
    stop: CancellationToken,
) {
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || std::future::ready(handle.render())),
        )
        .route("/healthz", axum::routing::get(|| std::future::ready("ok")))
        .route(
            "/readyz",
            axum::routing::get(move || {
                let probes = probes.clone();
                async move {
                    let database = sqlx::query("SELECT 1").execute(&probes.pool).await.is_ok();
                    let nats =
                        probes.nats.connection_state() == async_nats::connection::State::Connected;
                    let status = if database && nats {
                        axum::http::StatusCode::OK
                    } else {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    };
                    let body = serde_json::json!({ "database": database, "nats": nats });
                    (status, axum::Json(body))
                }
            }),
        );
    let served =
        axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await });
    if let Err(e) = served.await {
        tracing::warn!(error = %e, "the metrics endpoint stopped");
    }
}

/// Bucket bounds (seconds) of every `_seconds` histogram: from a fast HTTP answer or dispatch
/// (5 ms) to a long task (2 h). Histograms with buckets aggregate across replicas; summaries
/// do not.
const SECONDS_BUCKETS: [f64; 18] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    1800.0, 3600.0, 7200.0,
];

/// Bucket bounds of the batch-size histogram (`planexec_coordinator_batch_items`).
const ITEMS_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Installs the process's Prometheus recorder (once) and returns its handle; sets
/// `planexec_build_info`.
fn metrics() -> Option<PrometheusHandle> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_items".into()), &ITEMS_BUCKETS))
        .and_then(|b| b.install_recorder())
        .map_err(|e| tracing::warn!(error = %e, "metrics are off"))
        .ok()?;
    metrics::gauge!(
        "planexec_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "commit" => option_env!("PLANEXE_COMMIT").unwrap_or("unknown"),
    )
    .set(1.0);
    Some(handle)
}
