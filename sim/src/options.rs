//! How the simulator runs; `planexec agent run --sim larry` maps its flags onto this.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use planexec_agent_sdk::{
    AgentOptions, Credentials, Identity, RegisterVia, Registration, Transport,
};
use planexec_schemas::agent::capability;
use planexec_schemas::subjects::Namespace;

use crate::Error;

/// `--transport nats|http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimTransport {
    #[default]
    Nats,
    Http,
}

/// `--agent-id ID --token T`, or `--name N`.
#[derive(Clone, PartialEq, Eq)]
pub enum SimIdentity {
    /// An agent registered already (through the API).
    Existing {
        agent_id: planexec_schemas::Id,
        token: String,
    },
    /// Register a new agent: through the gateway (with the operator token) when a gateway URL
    /// is given, else with the coordinator's NATS command.
    Register { name: String },
}

impl std::fmt::Debug for SimIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Existing { agent_id, .. } => f
                .debug_struct("Existing")
                .field("agent_id", agent_id)
                .field("token", &"***")
                .finish(),
            Self::Register { name } => f.debug_struct("Register").field("name", name).finish(),
        }
    }
}

/// Everything the simulator needs. `Default` is Larry registering himself over NATS, in real
/// time, never failing.
#[derive(Clone)]
pub struct SimOptions {
    pub transport: SimTransport,
    /// `--nats URL`: needed for the NATS transport, and to register without a gateway.
    pub nats_url: Option<String>,
    /// `--nats-creds FILE`: the agent's own NATS credentials, for servers with authentication.
    pub nats_creds: Option<PathBuf>,
    /// `--gateway URL`: needed for the HTTP transport, and used to register when given.
    pub gateway_url: Option<String>,
    pub identity: SimIdentity,
    /// `PLANEXE_OPERATOR_TOKEN`: registering through the gateway needs it.
    pub operator_token: Option<String>,
    /// NATS namespace (`planexec`); must match the coordinator's.
    pub namespace: Namespace,
    /// `--event-log FILE`: JSON lines of everything received and delivered.
    pub event_log: Option<PathBuf>,
    /// `--time-scale F`: 1 is real time, 0.0001 runs a plan in seconds, 0 is instant.
    pub time_scale: f64,
    /// `--failure-rate P`: probability that an attempt fails (retryably).
    pub failure_rate: f64,
    /// `--concurrency N`: tasks at once.
    pub concurrency: usize,
    /// `--seed S`: repeatable durations, failures and outputs; random when absent.
    pub seed: Option<u64>,
    /// The capabilities a new registration claims (Larry's eight by default; add
    /// `human_review` to have him sign off reviews).
    pub capabilities: Vec<String>,
    /// Typical durations by capability, replacing the built-in ones.
    pub durations: HashMap<String, Duration>,
    /// How long one poll for work waits (the SDK's default when `None`).
    pub poll_wait: Option<Duration>,
    /// Heartbeat interval (the SDK's default when `None`).
    pub heartbeat_interval: Option<Duration>,
    /// How long running tasks may take to finish on shutdown (the SDK's default when `None`).
    pub shutdown_grace: Option<Duration>,
    /// `--poll-interval-seconds` / `PLANEXE_AGENT_POLL_INTERVAL_SECONDS`: the longest pause
    /// between tries while a server is unreachable (the SDK's default when `None`).
    pub max_backoff: Option<Duration>,
}

impl std::fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOptions")
            .field("transport", &self.transport)
            .field("nats_url", &self.nats_url)
            .field("gateway_url", &self.gateway_url)
            .field("identity", &self.identity)
            .field(
                "operator_token",
                &self.operator_token.as_ref().map(|_| "***"),
            )
            .field("namespace", &self.namespace.prefix())
            .field("event_log", &self.event_log)
            .field("time_scale", &self.time_scale)
            .field("failure_rate", &self.failure_rate)
            .field("concurrency", &self.concurrency)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            transport: SimTransport::Nats,
            nats_url: None,
            nats_creds: None,
            gateway_url: None,
            identity: SimIdentity::Register {
                name: "larry".into(),
            },
            operator_token: None,
            namespace: Namespace::default(),
            event_log: None,
            time_scale: 1.0,
            failure_rate: 0.0,
            concurrency: 4,
            seed: None,
            capabilities: capability::LARRY.iter().map(|c| (*c).to_owned()).collect(),
            durations: HashMap::new(),
            poll_wait: None,
            heartbeat_interval: None,
            shutdown_grace: None,
            max_backoff: None,
        }
    }
}

impl SimOptions {
    /// Says what is missing or out of range, in terms of the command's flags.
    pub fn check(&self) -> Result<(), Error> {
        let fail = |message: String| Err(Error::Options(message));
        if !self.time_scale.is_finite() || self.time_scale < 0.0 {
            return fail(format!(
                "--time-scale must be 0 or more (got {})",
                self.time_scale
            ));
        }
        if !(0.0..=1.0).contains(&self.failure_rate) {
            return fail(format!(
                "--failure-rate must be between 0 and 1 (got {})",
                self.failure_rate
            ));
        }
        if self.concurrency == 0 {
            return fail("--concurrency must be at least 1".into());
        }
        self.transport().map(|_| ())
    }

    /// The SDK transport the flags describe.
    pub fn transport(&self) -> Result<Transport, Error> {
        match self.transport {
            SimTransport::Nats => self
                .nats_url
                .clone()
                .map(|url| Transport::Nats { url })
                .ok_or_else(|| Error::Options("--transport nats needs --nats URL".into())),
            SimTransport::Http => self
                .gateway_url
                .clone()
                .map(|gateway| Transport::Http { gateway })
                .ok_or_else(|| Error::Options("--transport http needs --gateway URL".into())),
        }
    }

    /// Where a new agent registers: the gateway when its URL is given, else NATS.
    pub fn register_via(&self) -> Result<RegisterVia, Error> {
        match (&self.gateway_url, &self.nats_url) {
            (Some(url), _) => {
                let operator_token = self.operator_token.clone().ok_or_else(|| {
                    Error::Options(
                        "registering through the gateway needs the operator token: set \
                         PLANEXE_OPERATOR_TOKEN (or pass --agent-id and --token of an agent \
                         registered already)"
                            .into(),
                    )
                })?;
                Ok(RegisterVia::Gateway {
                    url: url.clone(),
                    operator_token,
                })
            }
            (None, Some(url)) => Ok(RegisterVia::Nats { url: url.clone() }),
            (None, None) => Err(Error::Options(
                "registering needs --gateway URL (with PLANEXE_OPERATOR_TOKEN) or --nats URL"
                    .into(),
            )),
        }
    }

    /// What a new agent says about itself.
    pub fn registration(&self, name: &str) -> Registration {
        Registration {
            name: name.to_owned(),
            role: "assistant".into(),
            capabilities: self.capabilities.clone(),
        }
    }

    /// The SDK options for an agent with `credentials`.
    pub fn agent_options(&self, credentials: Credentials) -> Result<AgentOptions, Error> {
        let mut options = AgentOptions::new(Identity::Registered(credentials), self.transport()?);
        options.namespace = self.namespace.clone();
        options.concurrency = self.concurrency;
        if self.nats_creds.is_some() {
            options.nats_creds = self.nats_creds.clone();
        }
        if let Some(wait) = self.poll_wait {
            options.poll_wait = wait;
        }
        if let Some(interval) = self.heartbeat_interval {
            options.heartbeat_interval = interval;
        }
        if let Some(grace) = self.shutdown_grace {
            options.shutdown_grace = grace;
        }
        if let Some(cap) = self.max_backoff {
            options.max_backoff = cap;
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_transport_needs_its_url() {
        let nats = SimOptions::default();
        assert!(
            nats.check()
                .is_err_and(|e| e.to_string().contains("--nats"))
        );
        let http = SimOptions {
            transport: SimTransport::Http,
            nats_url: Some("nats://127.0.0.1:4222".into()),
            ..SimOptions::default()
        };
        assert!(
            http.check()
                .is_err_and(|e| e.to_string().contains("--gateway"))
        );
    }

    #[test]
    fn registering_through_the_gateway_asks_for_the_operator_token() {
        let options = SimOptions {
            gateway_url: Some("http://127.0.0.1:8080".into()),
            ..SimOptions::default()
        };
        let error = options.register_via().expect_err("no operator token");
        assert!(
            error.to_string().contains("PLANEXE_OPERATOR_TOKEN"),
            "{error}"
        );
        let with_nats_only = SimOptions {
            nats_url: Some("nats://127.0.0.1:4222".into()),
            ..SimOptions::default()
        };
        assert!(matches!(
            with_nats_only.register_via(),
            Ok(RegisterVia::Nats { .. })
        ));
    }

    #[test]
    fn out_of_range_rates_and_scales_are_refused() {
        let base = SimOptions {
            nats_url: Some("nats://127.0.0.1:4222".into()),
            ..SimOptions::default()
        };
        assert!(base.check().is_ok());
        for bad in [
            SimOptions {
                failure_rate: 1.5,
                ..base.clone()
            },
            SimOptions {
                time_scale: -1.0,
                ..base.clone()
            },
            SimOptions {
                concurrency: 0,
                ..base.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
