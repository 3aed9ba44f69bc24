//! Private servers shared by the tests of one process, stopped when the last test lets go.

use std::sync::{Arc, Mutex, Weak};

use planexec_servers::{NatsOptions, PostgresOptions, PrivateNats, PrivatePostgres};

/// One private PostgreSQL and one nats-server, in a temp folder.
#[derive(Debug)]
pub struct Servers {
    // Field order is drop order: servers stop before their folder is removed.
    postgres: PrivatePostgres,
    nats: PrivateNats,
    _dir: tempfile::TempDir,
}

impl Servers {
    pub fn postgres_url(&self, database: &str) -> String {
        self.postgres.url(database)
    }

    pub fn nats_url(&self) -> String {
        self.nats.url()
    }
}

static SHARED: Mutex<Weak<Servers>> = Mutex::new(Weak::new());

/// The process's private servers, started on first use.
pub fn shared() -> Result<Arc<Servers>, String> {
    let mut slot = SHARED
        .lock()
        .map_err(|_| "a test panicked while starting servers".to_owned())?;
    if let Some(servers) = slot.upgrade() {
        return Ok(servers);
    }
    let servers = Arc::new(start()?);
    *slot = Arc::downgrade(&servers);
    Ok(servers)
}

fn start() -> Result<Servers, String> {
    let dir = tempfile::Builder::new()
        .prefix("planexec-test-")
        .tempdir()
        .map_err(|e| format!("creating a temp folder: {e}"))?;
    // The postgres user (when we are root) must be able to reach its data folder.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("opening up {}: {e}", dir.path().display()))?;
    let postgres = PrivatePostgres::start(&PostgresOptions {
        data_dir: dir.path().join("pgdata"),
        port: None,
        durable: false,
    })
    .map_err(|e| format!("{e}; or set DATABASE_URL to a running PostgreSQL"))?;
    let nats = PrivateNats::start(&NatsOptions {
        store_dir: dir.path().join("nats"),
        port: None,
        config: None,
    })
    .map_err(|e| format!("{e}; or set NATS_URL to a running nats-server with JetStream"))?;
    Ok(Servers {
        postgres,
        nats,
        _dir: dir,
    })
}
