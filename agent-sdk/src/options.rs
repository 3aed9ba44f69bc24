//! How an agent runs: who it is, how it reaches planexec, and its tunables.

use std::sync::Arc;
use std::time::Duration;

use planexec_schemas::Id;
use planexec_schemas::subjects::Namespace;

use crate::observer::{NoObserver, Observer};
use crate::register::{Credentials, RegisterVia, Registration};

/// Environment variable capping every back-off (seconds); 300 when unset.
pub const POLL_INTERVAL_ENV: &str = "PLANEXE_AGENT_POLL_INTERVAL_SECONDS";

/// How the agent receives tasks and reports events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Directly on NATS (JetStream): `nats://host:4222`.
    Nats { url: String },
    /// Through the gateway's HTTP API (long-polling): `http://host:8080`.
    Http { gateway: String },
}

/// Who the agent is.
#[derive(Debug, Clone)]
pub enum Identity {
    /// An agent registered before; its id and token.
    Registered(Credentials),
    /// Register a new agent when the runner starts.
    Register {
        registration: Registration,
        via: RegisterVia,
    },
}

/// Everything [`crate::Agent`] needs. Build with [`AgentOptions::new`], then change fields.
#[derive(Clone)]
pub struct AgentOptions {
    pub identity: Identity,
    pub transport: Transport,
    /// Prefix of every NATS subject and stream (`planexec`); must match the coordinator's.
    pub namespace: Namespace,
    /// How many tasks run at once (default 4).
    pub concurrency: usize,
    /// How often a sign of life is sent (default 10 s); the coordinator marks an agent offline
    /// after a minute of silence.
    pub heartbeat_interval: Duration,
    /// How long one poll for work waits when nothing is queued (default 20 s, at most 30 s over
    /// HTTP).
    pub poll_wait: Duration,
    /// Cap of every back-off when a server is unreachable (default: `$PLANEXE_AGENT_POLL_INTERVAL_SECONDS`,
    /// else 300 s).
    pub max_backoff: Duration,
    /// First back-off after a failure (default 200 ms).
    pub min_backoff: Duration,
    /// On shutdown, how long running tasks may take to finish before they are handed back
    /// with `task_released` (default 30 s). Buffered events get as long again to be delivered.
    pub shutdown_grace: Duration,
    /// After a cancel, how long a handler may take to return before it is dropped (default 2 s).
    pub stop_grace: Duration,
    /// How long to wait for the server to confirm one event (default 5 s).
    pub publish_timeout: Duration,
    /// Most events buffered while the server is unreachable (default 10 000); beyond that,
    /// handlers wait when they report.
    pub event_buffer: usize,
    /// The agent's NATS credentials file (the `nats_credentials` its registration returned),
    /// for NATS servers with authentication (default: `$PLANEXE_NATS_CREDS` when set).
    pub nats_creds: Option<std::path::PathBuf>,
    /// Sees every message received and event delivered.
    pub observer: Arc<dyn Observer>,
}

impl std::fmt::Debug for AgentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentOptions")
            .field("identity", &self.identity)
            .field("transport", &self.transport)
            .field("namespace", &self.namespace.prefix())
            .field("concurrency", &self.concurrency)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("poll_wait", &self.poll_wait)
            .field("max_backoff", &self.max_backoff)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish_non_exhaustive()
    }
}

impl AgentOptions {
    /// The documented defaults for this identity and transport.
    pub fn new(identity: Identity, transport: Transport) -> Self {
        Self {
            identity,
            transport,
            namespace: Namespace::default(),
            concurrency: 4,
            heartbeat_interval: Duration::from_secs(10),
            poll_wait: Duration::from_secs(20),
            max_backoff: poll_interval_cap(),
            min_backoff: Duration::from_millis(200),
            shutdown_grace: Duration::from_secs(30),
            stop_grace: Duration::from_secs(2),
            publish_timeout: Duration::from_secs(5),
            event_buffer: 10_000,
            nats_creds: std::env::var_os(NATS_CREDS_ENV)
                .filter(|v| !v.is_empty())
                .map(Into::into),
            observer: Arc::new(NoObserver),
        }
    }

    /// The agent id, when it is known before the runner starts.
    pub fn agent_id(&self) -> Option<Id> {
        match &self.identity {
            Identity::Registered(credentials) => Some(credentials.agent_id),
            Identity::Register { .. } => None,
        }
    }

    /// Says what cannot work, before anything connects.
    pub fn check(&self) -> Result<(), crate::Error> {
        let fail = |message: &str| Err(crate::Error::Options(message.to_owned()));
        if self.concurrency == 0 {
            return fail("concurrency must be at least 1");
        }
        if self.event_buffer == 0 {
            return fail("event_buffer must be at least 1");
        }
        if self.heartbeat_interval.is_zero() {
            return fail("heartbeat_interval must be more than zero");
        }
        match &self.transport {
            Transport::Nats { url } if url.trim().is_empty() => fail("the NATS URL is empty"),
            Transport::Http { gateway } => url::Url::parse(gateway).map(|_| ()).map_err(|e| {
                crate::Error::Options(format!("the gateway URL {gateway:?} is invalid: {e}"))
            }),
            Transport::Nats { .. } => match &self.nats_creds {
                Some(path) if !path.is_file() => Err(crate::Error::Options(format!(
                    "the NATS credentials file {} does not exist",
                    path.display()
                ))),
                _ => Ok(()),
            },
        }
    }
}

/// Where [`AgentOptions::nats_creds`] comes from by default.
pub const NATS_CREDS_ENV: &str = "PLANEXE_NATS_CREDS";

/// `PLANEXE_AGENT_POLL_INTERVAL_SECONDS`, or 300 s when unset or not a positive number.
pub fn poll_interval_cap() -> Duration {
    parse_poll_interval(std::env::var(POLL_INTERVAL_ENV).ok().as_deref())
}

fn parse_poll_interval(value: Option<&str>) -> Duration {
    value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> AgentOptions {
        AgentOptions::new(
            Identity::Registered(Credentials {
                agent_id: planexec_schemas::new_id(),
                token: "t".into(),
            }),
            Transport::Http {
                gateway: "http://127.0.0.1:8080".into(),
            },
        )
    }

    #[test]
    fn the_poll_interval_cap_defaults_to_five_minutes_and_ignores_nonsense() {
        assert_eq!(parse_poll_interval(None), Duration::from_secs(300));
        assert_eq!(parse_poll_interval(Some("abc")), Duration::from_secs(300));
        assert_eq!(parse_poll_interval(Some("-3")), Duration::from_secs(300));
        assert_eq!(parse_poll_interval(Some("45")), Duration::from_secs(45));
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let o = options();
        assert_eq!(o.concurrency, 4);
        assert_eq!(o.heartbeat_interval, Duration::from_secs(10));
        assert_eq!(o.poll_wait, Duration::from_secs(20));
        assert_eq!(o.check().ok(), Some(()));
    }

    #[test]
    fn options_that_cannot_work_are_refused_with_the_reason() {
        let mut o = options();
        o.concurrency = 0;
        assert!(
            o.check()
                .is_err_and(|e| e.to_string().contains("concurrency"))
        );
        let mut o = options();
        o.transport = Transport::Http {
            gateway: "not a url".into(),
        };
        assert!(
            o.check()
                .is_err_and(|e| e.to_string().contains("gateway URL"))
        );
    }
}
