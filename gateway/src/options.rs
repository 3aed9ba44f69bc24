//! How a gateway behaves; built by the CLI from flags, environment and `.env`.

use std::time::Duration;

use planexec_schemas::subjects::Namespace;

/// Tunables of the gateway. `Default` gives the documented defaults.
#[derive(Clone)]
pub struct GatewayOptions {
    pub namespace: Namespace,
    /// The operator's bearer token (`PLANEXE_OPERATOR_TOKEN`); never printed.
    pub operator_token: String,
    /// Longest a request may take; long polls are bounded well below it.
    pub request_timeout: Duration,
    /// Longest a long poll for work may wait (`?wait=` is capped to it).
    pub max_poll_wait: Duration,
    /// Largest JSON body.
    pub json_body_limit: usize,
    /// Largest plan upload (a PlanExe zip).
    pub upload_body_limit: usize,
    /// How long the gateway waits for a coordinator's answer.
    pub command_timeout: Duration,
    /// How often a polling agent's sign of life is forwarded to the coordinators.
    pub heartbeat_every: Duration,
    /// How long an agent's token hash is cached; a rotated or deleted token works on other
    /// gateways at most this long.
    pub token_cache_ttl: Duration,
    /// How long requests are answered 503 at once, without trying, after the database failed
    /// repeatedly (the circuit breaker's open time; also the `Retry-After` given).
    pub breaker_open: Duration,
    /// Renders `/metrics` when the process installed a Prometheus recorder.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl std::fmt::Debug for GatewayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayOptions")
            .field("namespace", &self.namespace)
            .field("operator_token", &"[redacted]")
            .field("request_timeout", &self.request_timeout)
            .field("max_poll_wait", &self.max_poll_wait)
            .finish_non_exhaustive()
    }
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            namespace: Namespace::default(),
            operator_token: String::new(),
            request_timeout: Duration::from_secs(60),
            max_poll_wait: Duration::from_secs(30),
            json_body_limit: 1024 * 1024,
            upload_body_limit: 64 * 1024 * 1024,
            command_timeout: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(5),
            token_cache_ttl: Duration::from_secs(30),
            breaker_open: Duration::from_secs(2),
            metrics: None,
        }
    }
}
