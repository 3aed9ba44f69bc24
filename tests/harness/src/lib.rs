//! Real servers for tests: every test gets its own PostgreSQL database and its own NATS
//! namespace (stream and subject prefix) on real servers.
//!
//! Where the servers come from, in order:
//! 1. `DATABASE_URL` / `NATS_URL` when set (the README's test command sets them after starting
//!    one private pair for the whole run);
//! 2. otherwise private `postgres` and `nats-server -js` started from PATH, shared by the tests
//!    of one process and stopped when the last of them ends.
//!
//! When neither works the test fails with a message that says how to provide a server; it never
//! skips. Databases and streams are dropped when the [`TestEnv`] drops.

mod private;
mod runs;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use planexec_schemas::subjects::Namespace;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

pub use runs::{fixtures_dir, planexe_runs, repo_root};

/// Real servers for one test.
#[derive(Debug)]
pub struct TestEnv {
    /// URL of this test's own, empty database (migrations not applied).
    pub database_url: String,
    pub nats_url: String,
    /// This test's NATS namespace: streams and subjects of other tests are invisible.
    pub namespace: Namespace,
    admin_url: String,
    database: String,
    /// Keeps private servers alive while the test runs.
    _private: Option<Arc<private::Servers>>,
}

impl TestEnv {
    /// Creates a fresh database and namespace; panics with instructions when no server can be
    /// had, so that a test without servers fails loudly.
    pub async fn start() -> Self {
        init_tracing();
        let env_db = std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty());
        let env_nats = std::env::var("NATS_URL").ok().filter(|s| !s.is_empty());
        let private = if env_db.is_none() || env_nats.is_none() {
            Some(private::shared().unwrap_or_else(|e| {
                panic!(
                    "planexec tests need real PostgreSQL and NATS servers. Either set DATABASE_URL \
                     (a server where the user may create databases) and NATS_URL (nats-server with \
                     JetStream), or put initdb, postgres and nats-server on PATH (apt install \
                     postgresql nats-server) so that private ones can be started. Starting private \
                     servers failed: {e}"
                )
            }))
        } else {
            None
        };
        let admin_url = env_db
            .or_else(|| private.as_ref().map(|p| p.postgres_url("postgres")))
            .unwrap_or_default();
        let nats_url = env_nats
            .or_else(|| private.as_ref().map(|p| p.nats_url()))
            .unwrap_or_default();

        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("planexec_test_{}", &suffix[..16]);
        let mut admin = connect_admin(&admin_url).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot create a test database on {}: {e}",
                    redact(&admin_url)
                )
            });
        let _ = admin.close().await;
        let database_url = with_database(&admin_url, &database);
        let namespace = Namespace::new(&format!("t{}", &suffix[16..28]))
            .unwrap_or_else(|e| panic!("test namespace: {e}"));
        wait_for_jetstream(&nats_url).await;
        Self {
            database_url,
            nats_url,
            namespace,
            admin_url,
            database,
            _private: private,
        }
    }

    /// A small pool on this test's database.
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(20))
            .connect(&self.database_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"))
    }

    /// A NATS connection.
    pub async fn nats(&self) -> async_nats::Client {
        async_nats::connect(&self.nats_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to NATS at {}: {e}", self.nats_url))
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Drop runs outside any async context we can rely on: clean up on a thread of our own.
        let (admin_url, database) = (self.admin_url.clone(), self.database.clone());
        let (nats_url, namespace) = (self.nats_url.clone(), self.namespace.clone());
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(client) = async_nats::connect(&nats_url).await {
                    let js = async_nats::jetstream::new(client);
                    let _ = js.delete_stream(namespace.events_stream()).await;
                    let _ = js.delete_stream(namespace.tasks_stream()).await;
                }
                if let Ok(options) = PgConnectOptions::from_str(&admin_url)
                    && let Ok(mut admin) = options.connect().await
                {
                    let sql = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

async fn connect_admin(url: &str) -> sqlx::PgConnection {
    let options = PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("DATABASE_URL {} is not a PostgreSQL URL: {e}", redact(url)));
    let mut last = None;
    for _ in 0..50 {
        match options.connect().await {
            Ok(conn) => return conn,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "cannot connect to PostgreSQL at {}: {}. Set DATABASE_URL to a running server or unset it \
         to start a private one from PATH",
        redact(url),
        last.map(|e| e.to_string()).unwrap_or_default()
    )
}

/// JetStream answers a little after the port opens; tests should not race it. The raw API is
/// asked directly: async-nats' account type expects fields that nats-server 2.9 does not send.
async fn wait_for_jetstream(url: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        match async_nats::connect(url).await {
            Ok(client) => match client.request("$JS.API.INFO", "".into()).await {
                Ok(reply) => match serde_json::from_slice::<serde_json::Value>(&reply.payload) {
                    Ok(info) if info.get("error").is_none() => return,
                    Ok(info) => last = info["error"].to_string(),
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no JetStream at {url}: {last}. Start nats-server with -js, or unset NATS_URL to start a \
         private one from PATH"
    )
}

/// The same server URL pointing at another database.
fn with_database(url: &str, database: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_path(&format!("/{database}"));
            parsed.to_string()
        }
        Err(e) => panic!("DATABASE_URL {} is not a URL: {e}", redact(url)),
    }
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// Test logs go to the test's captured output; `RUST_LOG` selects them (default: warnings).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
