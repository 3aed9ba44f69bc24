//! A private PostgreSQL cluster: `initdb` once into a folder, then `postgres` on a free port.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::{Error, process};

const HINT: &str = "install PostgreSQL's server: `sudo apt install postgresql` on Debian and \
                    Ubuntu, `sudo dnf install postgresql-server` on Fedora, `brew install postgresql@16` \
                    on macOS";

/// How to run the cluster.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The cluster's data folder; created and initialised when it holds no cluster yet. Its
    /// parent must be traversable by the `postgres` user when running as root.
    pub data_dir: PathBuf,
    /// `None` picks a free port.
    pub port: Option<u16>,
    /// `false` turns off fsync and friends: fast, and fine for throw-away test clusters.
    pub durable: bool,
}

/// A running PostgreSQL; stopped (fast shutdown) when dropped.
#[derive(Debug)]
pub struct PrivatePostgres {
    child: Child,
    port: u16,
    data_dir: PathBuf,
}

impl PrivatePostgres {
    /// Initialises the cluster if needed and starts it; returns once it accepts connections.
    pub fn start(options: &PostgresOptions) -> Result<Self, Error> {
        let search = process::Search {
            extra: process::postgres_bin_dirs(),
            looked: "PATH, /usr/lib/postgresql/<version>/bin or /usr/pgsql-<version>/bin",
            hint: HINT,
        };
        let initdb = process::find_binary("initdb", &search)?;
        // The server of the same installation as initdb: versions must match.
        let postgres = match initdb.with_file_name("postgres") {
            beside if beside.is_file() => beside,
            _ => process::find_binary("postgres", &search)?,
        };
        let owner = process::unprivileged_user("postgres")?;
        let dir = &options.data_dir;
        let log = log_path(dir);

        if !dir.join("PG_VERSION").exists() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            restrict(dir)?;
            process::give_to(dir, owner)?;
            let status = process::command(&initdb, owner, &log)?
                .arg("-D")
                .arg(dir)
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ])
                .status()
                .map_err(|e| Error::io("running initdb", e))?;
            if !status.success() {
                let tail = process::tail(&log);
                return Err(Error::Failed {
                    what: format!("initdb of {}", dir.display()),
                    log,
                    tail,
                });
            }
        }

        let port = match options.port {
            Some(port) => port,
            None => crate::free_port()?,
        };
        let already_logged = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let mut cmd = process::command(&postgres, owner, &log)?;
        cmd.arg("-D")
            .arg(dir)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(dir)
            .args(["-c", "max_connections=300"]);
        if !options.durable {
            cmd.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        let mut child = cmd.spawn().map_err(|e| Error::io("starting postgres", e))?;
        let what = format!("postgres on port {port}");
        let ready = process::wait_until(&what, &mut child, &log, Duration::from_secs(60), || {
            logged_since(&log, already_logged).contains("ready to accept connections")
                && crate::port_is_open(port)
        });
        if let Err(e) = ready {
            process::stop(&mut child, Signal::SIGINT, Duration::from_secs(5));
            return Err(e);
        }
        tracing::info!(port, data_dir = %dir.display(), "started a private PostgreSQL");
        Ok(Self {
            child,
            port,
            data_dir: dir.clone(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Connection URL of `database` (user `postgres`, trust authentication).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's "fast shutdown": roll back clients, checkpoint, exit.
        process::stop(&mut self.child, Signal::SIGINT, Duration::from_secs(10));
    }
}

/// The log sits beside the data folder: initdb needs the folder itself empty.
fn log_path(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".log");
    data_dir.with_file_name(name)
}

fn logged_since(log: &Path, offset: u64) -> String {
    let bytes = std::fs::read(log).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// PostgreSQL insists that its data folder is private (0700).
fn restrict(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(format!("restricting {}", dir.display()), e))
}
