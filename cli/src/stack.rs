//! Getting the servers a process needs: the ones configured, the usual local ones, or (for
//! `planexec up` only) private ones started from PATH in the data folder; then the pool, the
//! NATS connection and the migrations.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use planexec_servers::{NatsOptions, PostgresOptions, PrivateNats, PrivatePostgres};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

use crate::settings::{Connections, redact};

const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
const LOCAL_NATS: &str = "nats://127.0.0.1:4222";
const DATABASE: &str = "planexec";

/// The servers of a process; private ones stop when this drops.
#[derive(Debug)]
pub struct Servers {
    pub database_url: SecretString,
    pub nats_url: String,
    /// The authentication of the private NATS (its files in the data folder).
    pub nats_auth: Option<planexec_nats_auth::Written>,
    pub private_postgres: Option<PrivatePostgres>,
    pub private_nats: Option<PrivateNats>,
}

/// For `planexec up`: the configured servers, else the local ones, else private ones.
pub async fn for_up(connections: &Connections, data_dir: &Path) -> anyhow::Result<Servers> {
    let (database_url, private_postgres) = match &connections.database_url {
        Some(url) => (url.clone(), None),
        None => match local_postgres().await {
            Some(url) => (url, None),
            None => {
                let postgres = start_private_postgres(data_dir).await?;
                let url = ensure_database(&postgres.url("postgres")).await?;
                (url, Some(postgres))
            }
        },
    };
    let (nats_url, private_nats, nats_auth) = match &connections.nats_url {
        Some(url) => (url.clone(), None, None),
        None => {
            if jetstream_answers(LOCAL_NATS).await {
                (LOCAL_NATS.to_owned(), None, None)
            } else {
                let (nats, auth) = start_private_nats(data_dir).await?;
                (nats.url(), Some(nats), Some(auth))
            }
        }
    };
    Ok(Servers {
        database_url,
        nats_url,
        nats_auth,
        private_postgres,
        private_nats,
    })
}

/// A private nats-server with authentication: the setup in `<data>/nats-auth` (made the first
/// time), its JetStream store in `<data>/nats`.
async fn start_private_nats(
    data_dir: &Path,
) -> anyhow::Result<(PrivateNats, planexec_nats_auth::Written)> {
    let auth_dir = data_dir.join("nats-auth");
    let auth = if auth_dir.join("nats.conf").exists() {
        planexec_nats_auth::Written::read(&auth_dir)?
    } else {
        planexec_nats_auth::Setup::generate().write(&auth_dir)?
    };
    let options = NatsOptions {
        store_dir: data_dir.join("nats"),
        port: None,
        config: Some(auth.nats_conf.clone()),
    };
    let nats = tokio::task::spawn_blocking(move || PrivateNats::start(&options))
        .await?
        .context(
            "no NATS with JetStream answers on 127.0.0.1:4222, so `planexec up` starts its own, and \
             cannot: install nats-server or set PLANEXE_NATS_URL to a running one",
        )?;
    Ok((nats, auth))
}

/// For the single-role processes: the configured servers, else the usual local ones.
pub fn configured(connections: &Connections) -> (SecretString, String) {
    (
        connections
            .database_url
            .clone()
            .unwrap_or_else(|| SecretString::from(format!("{LOCAL_POSTGRES}/{DATABASE}"))),
        connections
            .nats_url
            .clone()
            .unwrap_or_else(|| LOCAL_NATS.to_owned()),
    )
}

/// A local PostgreSQL that answers, with its `planexec` database.
async fn local_postgres() -> Option<SecretString> {
    if !planexec_servers::port_is_open(5432) {
        return None;
    }
    match ensure_database(&format!("{LOCAL_POSTGRES}/postgres")).await {
        Ok(url) => Some(url),
        Err(e) => {
            tracing::info!(error = %e, "the local PostgreSQL cannot be used; starting a private one");
            None
        }
    }
}

/// Creates the `planexec` database on the server of `admin_url` when missing; its URL.
async fn ensure_database(admin_url: &str) -> anyhow::Result<SecretString> {
    use sqlx::{Connection, PgConnection};
    let mut admin = PgConnection::connect(admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
            .execute(&mut admin)
            .await?;
    }
    let _ = admin.close().await;
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{DATABASE}"));
    Ok(SecretString::from(url.to_string()))
}

async fn start_private_postgres(data_dir: &Path) -> anyhow::Result<PrivatePostgres> {
    let dir = data_dir.join("postgres");
    reachable_by_postgres(&dir)?;
    let options = PostgresOptions {
        data_dir: dir,
        port: None,
        durable: true,
    };
    tokio::task::spawn_blocking(move || PrivatePostgres::start(&options))
        .await?
        .context(
            "no PostgreSQL answers on 127.0.0.1:5432, so `planexec up` starts its own, and cannot: \
             install PostgreSQL's server or set PLANEXE_DATABASE_URL to a running one",
        )
}

/// As root, PostgreSQL runs as the `postgres` user, who must be able to reach its folder.
fn reachable_by_postgres(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(());
    }
    let absolute = std::path::absolute(dir)?;
    for ancestor in absolute.ancestors().skip(1) {
        if let Ok(meta) = std::fs::metadata(ancestor)
            && meta.permissions().mode() & 0o001 == 0
        {
            anyhow::bail!(
                "PostgreSQL runs as the `postgres` user, who cannot enter {} (mode {:o}); choose a --data-dir it can \
                 reach (e.g. /var/lib/planexec) or set PLANEXE_DATABASE_URL",
                ancestor.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
    Ok(())
}

/// Whether a NATS server with JetStream answers at `url` (raw API: works with 2.9).
async fn jetstream_answers(url: &str) -> bool {
    let Ok(Ok(client)) = tokio::time::timeout(
        Duration::from_secs(2),
        async_nats::connect(planexec_schemas::subjects::nats_servers(url)),
    )
    .await
    else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), client.request("$JS.API.INFO", "".into())).await,
        Ok(Ok(reply)) if serde_json::from_slice::<serde_json::Value>(&reply.payload)
            .is_ok_and(|info| info.get("error").is_none())
    )
}

/// A pool on the database, waiting up to 30 s for it; a query waits at most `acquire` for a
/// connection.
pub async fn pool(
    url: &SecretString,
    max_connections: u32,
    acquire: Duration,
) -> anyhow::Result<PgPool> {
    planexec_store::connect(
        url.expose_secret(),
        max_connections,
        Duration::from_secs(30),
        acquire,
    )
    .await
    .with_context(|| {
        format!(
            "connecting to PostgreSQL at {}",
            redact(url.expose_secret())
        )
    })
}

/// A NATS connection, waiting up to 30 s for the server. Credentials come from the URL
/// (`user:password@` or `token@`) or from a credentials file.
pub async fn nats(url: &str, creds: Option<&Path>) -> anyhow::Result<async_nats::Client> {
    let started = std::time::Instant::now();
    // A cluster is a comma-separated list; credentials in a URL are the same for every node.
    let mut addresses = Vec::new();
    let (mut user, mut password) = (None, None);
    for server in planexec_schemas::subjects::nats_servers(url) {
        let (address, u, p) = split_credentials(&server);
        addresses.push(address);
        user = user.or(u);
        password = password.or(p);
    }
    anyhow::ensure!(!addresses.is_empty(), "no NATS server in {url:?}");
    loop {
        let mut options = async_nats::ConnectOptions::new()
            .name("planexec")
            .retry_on_initial_connect();
        options = match (&user, &password) {
            (Some(user), Some(password)) => {
                options.user_and_password(user.clone(), password.clone())
            }
            (Some(token), None) => options.token(token.clone()),
            _ => options,
        };
        if let Some(creds) = creds {
            options = options.credentials_file(creds).await.with_context(|| {
                format!("reading the NATS credentials file {}", creds.display())
            })?;
        }
        match options.connect(addresses.clone()).await {
            Ok(client) => return Ok(client),
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                tracing::debug!(error = %e, "NATS not reachable yet");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                let at = addresses.join(",");
                return Err(anyhow::anyhow!("connecting to NATS at {at}: {e}"));
            }
        }
    }
}

/// Splits `nats://user:password@host:port` into the address and the credentials, which
/// async-nats does not take from URLs.
fn split_credentials(url: &str) -> (String, Option<String>, Option<String>) {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() => {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            let user = decode(parsed.username());
            let password = parsed.password().and_then(decode);
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            (
                parsed.to_string().trim_end_matches('/').to_owned(),
                user,
                password,
            )
        }
        _ => (url.to_owned(), None, None),
    }
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    planexec_store::migrate(pool)
        .await
        .context("applying migrations")
}
