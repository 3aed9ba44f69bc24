//! Settings of each process, from flags, the environment and a `.env` file.
//!
//! Every flag has an environment twin with PlanExe's prefix (`--listen` ↔ `PLANEXE_LISTEN`);
//! `.env` is read first and never overrides the environment, as in PlanExe. Plain
//! `DATABASE_URL` / `NATS_URL` are accepted when the `PLANEXE_` ones are unset. Secrets (the
//! database URL's password, the operator token) are wrapped so that they never print.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};
use planexec_coordinator::archival::ArchivalOptions;
use planexec_coordinator::machine::RetryPolicy;
use planexec_schemas::subjects::Namespace;
use secrecy::{ExposeSecret, SecretString};

/// Where PostgreSQL and NATS are.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// PostgreSQL URL (falls back to DATABASE_URL).
    #[arg(long, env = "PLANEXE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// NATS URL, JetStream enabled (falls back to NATS_URL); `nats://user:password@host` or
    /// `nats://token@host` log in.
    #[arg(long, env = "PLANEXE_NATS_URL", hide_env_values = true)]
    pub nats_url: Option<String>,
    /// A NATS credentials file (JWT + NKey seed), for servers that use decentralised auth.
    #[arg(long, env = "PLANEXE_NATS_CREDS")]
    pub nats_creds: Option<std::path::PathBuf>,
    /// Prefix of every NATS subject and stream, to share one NATS between installations.
    #[arg(long, env = "PLANEXE_NATS_NAMESPACE", default_value = "planexec")]
    pub nats_namespace: String,
}

/// How a server role stops.
#[derive(Debug, Clone, Args)]
pub struct ShutdownArgs {
    /// Seconds to wait for the work in progress after SIGTERM or SIGINT (a second signal stops
    /// at once). Keep it below the orchestrator's grace period (Kubernetes: 30 s). Cutting it
    /// short loses nothing: what was not acknowledged is redelivered.
    #[arg(long, env = "PLANEXE_SHUTDOWN_GRACE_SECONDS", default_value_t = 25)]
    pub shutdown_grace_seconds: u64,
}

impl ShutdownArgs {
    pub fn grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_grace_seconds)
    }
}

/// The resolved connections of a process.
#[derive(Debug, Clone)]
pub struct Connections {
    pub database_url: Option<SecretString>,
    pub nats_url: Option<String>,
    pub nats_creds: Option<std::path::PathBuf>,
    pub namespace: Namespace,
}

impl ConnectionArgs {
    pub fn resolve(&self) -> anyhow::Result<Connections> {
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(Connections {
            database_url: self
                .database_url
                .clone()
                .or_else(|| from_env("DATABASE_URL"))
                .map(SecretString::from),
            nats_url: self.nats_url.clone().or_else(|| from_env("NATS_URL")),
            nats_creds: self.nats_creds.clone(),
            namespace: Namespace::new(&self.nats_namespace).map_err(anyhow::Error::msg)?,
        })
    }
}

/// How executions run (the coordinator's settings).
#[derive(Debug, Clone, Args)]
pub struct ExecutionArgs {
    /// When false, no execution can be created.
    #[arg(long, env = "PLANEXE_EXECUTION_ENABLED", default_value_t = true, action = ArgAction::Set)]
    pub execution_enabled: bool,
    /// How long an agent may work on a task once started, unless the plan says otherwise.
    #[arg(long, env = "PLANEXE_TASK_TIMEOUT_SECONDS", default_value_t = 3600)]
    pub task_timeout_seconds: u32,
    /// Attempts of a task before its execution is BLOCKED (retries_exhausted).
    #[arg(long, env = "PLANEXE_TASK_MAX_ATTEMPTS", default_value_t = RetryPolicy::DEFAULT.max_attempts)]
    pub task_max_attempts: u32,
    /// Back-off before the first retry; it doubles each time.
    #[arg(
        long,
        env = "PLANEXE_RETRY_BACKOFF_SECONDS",
        default_value_t = RetryPolicy::DEFAULT.initial_backoff_seconds
    )]
    pub retry_backoff_seconds: f64,
    /// Longest back-off between two attempts.
    #[arg(
        long,
        env = "PLANEXE_RETRY_MAX_BACKOFF_SECONDS",
        default_value_t = RetryPolicy::DEFAULT.max_backoff_seconds
    )]
    pub retry_max_backoff_seconds: f64,
    /// How long a dispatched task may wait in an agent's queue before it counts as timed out.
    #[arg(long, env = "PLANEXE_QUEUE_TIMEOUT_SECONDS", default_value_t = 3600)]
    pub queue_timeout_seconds: u64,
    /// An agent silent for this long is offline (its executions show BLOCKED agent_offline).
    #[arg(
        long,
        env = "PLANEXE_AGENT_OFFLINE_AFTER_SECONDS",
        default_value_t = 60
    )]
    pub agent_offline_after_seconds: u64,
    /// Most events applied in one transaction.
    #[arg(long, env = "PLANEXE_BATCH_SIZE", default_value_t = 256)]
    pub batch_size: usize,
    /// Workers applying events at once (each owns a share of the executions).
    #[arg(long, env = "PLANEXE_INGEST_WORKERS", default_value_t = 8)]
    pub ingest_workers: usize,
    /// How long a task taken by an agent (NATS) or handed out over HTTP stays its own before it
    /// is offered again, unless the agent acknowledges or reports on it.
    #[arg(long, env = "PLANEXE_AGENT_ACK_WAIT_SECONDS", default_value_t = 15)]
    pub agent_ack_wait_seconds: u64,
    /// Copies of each JetStream stream: 1 on one server, 3 on a three-node cluster (an
    /// existing stream with fewer is raised at start-up).
    #[arg(long, env = "PLANEXE_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,
    /// Days events stay in their stream (applied ones too: a replay after a database restore
    /// finds them); an existing stream is changed to this at start-up.
    #[arg(long, env = "PLANEXE_EVENTS_MAX_AGE_DAYS", default_value_t = 14)]
    pub events_max_age_days: u32,
    /// Days a task nobody fetched stays in its agent's queue.
    #[arg(long, env = "PLANEXE_TASKS_MAX_AGE_DAYS", default_value_t = 30)]
    pub tasks_max_age_days: u32,
    /// How long an event handed to a coordinator may stay unacknowledged before another
    /// replica gets it (a coordinator that died mid-batch).
    #[arg(long, env = "PLANEXE_EVENTS_ACK_WAIT_SECONDS", default_value_t = 10)]
    pub events_ack_wait_seconds: u64,
    /// Most events handed to the coordinators and not yet acknowledged.
    #[arg(long, env = "PLANEXE_EVENTS_MAX_ACK_PENDING", default_value_t = 4096)]
    pub events_max_ack_pending: i64,
    /// Days the history of an ended execution stays in the live table; then the coordinator
    /// moves it to the archive (read with `?archived=true`). Unset: never.
    #[arg(long, env = "PLANEXE_EVENTS_RETENTION_DAYS")]
    pub events_retention_days: Option<u32>,
    #[command(flatten)]
    pub nats_auth: NatsAuthArgs,
}

/// The keys with which a coordinator makes each agent's NATS credentials (`planexec nats init`
/// writes them and a `planexec.env` naming them). Unset: NATS takes no credentials, and agents
/// get none.
#[derive(Debug, Clone, Args)]
pub struct NatsAuthArgs {
    /// The planexec account's public key.
    #[arg(long, env = "PLANEXE_NATS_ACCOUNT", requires = "nats_signing_key_file")]
    pub nats_account: Option<String>,
    /// The account signing key's seed file.
    #[arg(long, env = "PLANEXE_NATS_SIGNING_KEY_FILE", requires = "nats_account")]
    pub nats_signing_key_file: Option<PathBuf>,
    /// The operator signing key's seed file, to revoke deleted or rotated agents' users.
    #[arg(long, env = "PLANEXE_NATS_OPERATOR_SIGNING_KEY_FILE")]
    pub nats_operator_signing_key_file: Option<PathBuf>,
    /// A system user's credentials, to push the account's revocations to the servers.
    #[arg(long, env = "PLANEXE_NATS_SYSTEM_CREDS")]
    pub nats_system_creds: Option<PathBuf>,
}

impl NatsAuthArgs {
    fn options(&self, servers: &str) -> Option<planexec_coordinator::NatsAuthOptions> {
        Some(planexec_coordinator::NatsAuthOptions {
            account: self.nats_account.clone()?,
            signing_key_file: self.nats_signing_key_file.clone()?,
            operator_signing_key_file: self.nats_operator_signing_key_file.clone(),
            system_creds: self.nats_system_creds.clone(),
            servers: servers.to_owned(),
        })
    }
}

impl ExecutionArgs {
    /// The coordinator's options; `nats_url` is where revocations are pushed.
    pub fn options(
        &self,
        namespace: &Namespace,
        nats_url: &str,
    ) -> anyhow::Result<planexec_coordinator::Options> {
        anyhow::ensure!(
            self.task_max_attempts >= 1,
            "PLANEXE_TASK_MAX_ATTEMPTS must be at least 1"
        );
        anyhow::ensure!(
            self.task_timeout_seconds >= 1,
            "PLANEXE_TASK_TIMEOUT_SECONDS must be at least 1"
        );
        anyhow::ensure!(
            self.batch_size >= 1,
            "PLANEXE_BATCH_SIZE must be at least 1"
        );
        anyhow::ensure!(
            self.retry_backoff_seconds >= 0.0
                && self.retry_max_backoff_seconds >= self.retry_backoff_seconds,
            "retry back-offs must be non-negative, the maximum at least the first"
        );
        anyhow::ensure!(
            (1..=5).contains(&self.stream_replicas),
            "PLANEXE_STREAM_REPLICAS must be 1 to 5 (JetStream's limit)"
        );
        anyhow::ensure!(
            self.events_max_age_days >= 1 && self.tasks_max_age_days >= 1,
            "PLANEXE_EVENTS_MAX_AGE_DAYS and PLANEXE_TASKS_MAX_AGE_DAYS must be at least 1"
        );
        anyhow::ensure!(
            self.events_max_ack_pending >= 1,
            "PLANEXE_EVENTS_MAX_ACK_PENDING must be at least 1"
        );
        anyhow::ensure!(
            self.events_retention_days
                .is_none_or(|days| (1..=36_500).contains(&days)),
            "PLANEXE_EVENTS_RETENTION_DAYS must be 1 to 36500 (unset: never archive)"
        );
        Ok(planexec_coordinator::Options {
            namespace: namespace.clone(),
            execution_enabled: self.execution_enabled,
            retry: RetryPolicy {
                max_attempts: self.task_max_attempts,
                initial_backoff_seconds: self.retry_backoff_seconds,
                max_backoff_seconds: self.retry_max_backoff_seconds,
                ..RetryPolicy::DEFAULT
            },
            task_timeout_seconds: self.task_timeout_seconds,
            queue_timeout: Duration::from_secs(self.queue_timeout_seconds),
            agent_offline_after: Duration::from_secs(self.agent_offline_after_seconds),
            batch_size: self.batch_size,
            ingest_workers: self.ingest_workers.max(1),
            agent_ack_wait: Duration::from_secs(self.agent_ack_wait_seconds.max(1)),
            ack_wait: Duration::from_secs(self.events_ack_wait_seconds.max(1)),
            max_ack_pending: self.events_max_ack_pending,
            streams: planexec_coordinator::StreamLimits {
                replicas: self.stream_replicas,
                events_max_age: Duration::from_secs(u64::from(self.events_max_age_days) * 86_400),
                tasks_max_age: Duration::from_secs(u64::from(self.tasks_max_age_days) * 86_400),
            },
            nats_auth: self.nats_auth.options(nats_url),
            archival: self.events_retention_days.map(|days| {
                ArchivalOptions::with_retention(Duration::from_secs(u64::from(days) * 86_400))
            }),
            ..planexec_coordinator::Options::default()
        })
    }
}

/// The gateway's settings.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Address the HTTP API listens on.
    #[arg(long, env = "PLANEXE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The operator's bearer token; `planexec up` makes one when unset.
    #[arg(long, env = "PLANEXE_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// Longest an agent's long poll for work may wait.
    #[arg(long, env = "PLANEXE_MAX_POLL_WAIT_SECONDS", default_value_t = 30)]
    pub max_poll_wait_seconds: u64,
    /// Longest a request may take.
    #[arg(long, env = "PLANEXE_REQUEST_TIMEOUT_SECONDS", default_value_t = 60)]
    pub request_timeout_seconds: u64,
    /// Largest plan upload, in megabytes.
    #[arg(long, env = "PLANEXE_MAX_UPLOAD_MB", default_value_t = 64)]
    pub max_upload_mb: usize,
}

impl GatewayArgs {
    pub fn options(
        &self,
        namespace: &Namespace,
        operator_token: &SecretString,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> anyhow::Result<planexec_gateway::GatewayOptions> {
        anyhow::ensure!(
            self.request_timeout_seconds > self.max_poll_wait_seconds,
            "PLANEXE_REQUEST_TIMEOUT_SECONDS must exceed PLANEXE_MAX_POLL_WAIT_SECONDS"
        );
        Ok(planexec_gateway::GatewayOptions {
            namespace: namespace.clone(),
            operator_token: operator_token.expose_secret().to_owned(),
            request_timeout: Duration::from_secs(self.request_timeout_seconds),
            max_poll_wait: Duration::from_secs(self.max_poll_wait_seconds),
            upload_body_limit: self.max_upload_mb * 1024 * 1024,
            metrics,
            ..planexec_gateway::GatewayOptions::default()
        })
    }
}

/// Where `planexec up` keeps its private servers and its operator token.
#[derive(Debug, Clone, Args)]
pub struct DataDirArgs {
    #[arg(long, env = "PLANEXE_DATA_DIR", default_value = ".planexec")]
    pub data_dir: PathBuf,
}

/// How the CLI's client commands reach the API.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The gateway's base URL.
    #[arg(
        long,
        env = "PLANEXE_GATEWAY_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub gateway: String,
    /// The operator token (else the data folder's `operator-token`, else the copy in the user's
    /// config folder, `~/.config/planexec/operator-token`).
    #[arg(long, env = "PLANEXE_OPERATOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub data: DataDirArgs,
}

impl ClientArgs {
    /// The operator token: `--token` or `PLANEXE_OPERATOR_TOKEN`, else the data folder's
    /// `operator-token` (run from where `planexec up` runs), else the copy `planexec up` left in
    /// the user's config folder.
    pub fn token(&self) -> anyhow::Result<SecretString> {
        if let Some(token) = self.token.clone().filter(|t| !t.is_empty()) {
            return Ok(SecretString::from(token));
        }
        let here = self.data.data_dir.join(crate::token::OPERATOR_TOKEN_FILE);
        let user = crate::token::user_token_file();
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        if let Some(token) = read(&here).or_else(|| user.as_deref().and_then(read)) {
            return Ok(SecretString::from(token));
        }
        anyhow::bail!(
            "no operator token: set PLANEXE_OPERATOR_TOKEN or --token, or start `planexec up` once (it keeps the \
             token in {} and {})",
            here.display(),
            user.map_or_else(
                || "no user config folder".to_owned(),
                |p| p.display().to_string()
            )
        )
    }
}

/// A database URL with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<database URL>".to_owned(),
    }
}
