//! A private nats-server with JetStream, storing into a folder, on a free port.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::{Error, process};

const HINT: &str = "install nats-server 2.9 or later: `sudo apt install nats-server` on Debian and \
                    Ubuntu, `brew install nats-server` on macOS, or a release from \
                    https://github.com/nats-io/nats-server/releases";

#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// JetStream's store folder (created when missing); the log goes beside it.
    pub store_dir: PathBuf,
    /// `None` picks a free port.
    pub port: Option<u16>,
    /// A configuration file (`-c`), e.g. one with authentication; address, port and store
    /// folder still come from the options above.
    pub config: Option<PathBuf>,
}

/// A running nats-server; stopped when dropped.
#[derive(Debug)]
pub struct PrivateNats {
    child: Child,
    port: u16,
    store_dir: PathBuf,
}

impl PrivateNats {
    /// Starts `nats-server -js` and returns once it accepts connections.
    pub fn start(options: &NatsOptions) -> Result<Self, Error> {
        let search = process::Search {
            extra: Vec::new(),
            looked: "PATH",
            hint: HINT,
        };
        let binary = process::find_binary("nats-server", &search)?;
        let dir = &options.store_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let log = dir.with_extension("log");
        let port = match options.port {
            Some(port) => port,
            None => crate::free_port()?,
        };
        let mut command = process::command(&binary, None, &log)?;
        if let Some(config) = &options.config {
            command.arg("-c").arg(config);
        }
        let mut child = command
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
            .spawn()
            .map_err(|e| Error::io("starting nats-server", e))?;
        let what = format!("nats-server on port {port}");
        if let Err(e) =
            process::wait_until(&what, &mut child, &log, Duration::from_secs(30), || {
                crate::port_is_open(port)
            })
        {
            process::stop(&mut child, Signal::SIGTERM, Duration::from_secs(2));
            return Err(e);
        }
        tracing::info!(port, store = %dir.display(), "started a private nats-server");
        Ok(Self {
            child,
            port,
            store_dir: dir.clone(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        process::stop(&mut self.child, Signal::SIGTERM, Duration::from_secs(5));
    }
}
