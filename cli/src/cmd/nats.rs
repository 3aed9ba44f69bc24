//! `planexec nats init DIR`: NATS with authentication for an installation.
//!
//! Writes a nats-server configuration (JetStream, the operator, the accounts), the services'
//! credentials, the signing keys and `planexec.env`; see `planexec_nats_auth::setup`.

use std::path::PathBuf;

use anyhow::Context as _;
use planexec_nats_auth::Setup;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a nats-server configuration with authentication, and the services' credentials.
    Init {
        /// The folder to write into (created when missing).
        dir: PathBuf,
        /// Replace an existing setup: every agent's NATS credentials stop working.
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    let Command::Init { dir, force } = command;
    if dir.join("nats.conf").exists() && !force {
        anyhow::bail!(
            "{} already holds a NATS setup; agents' credentials depend on its keys. \
             Use --force to replace it (every agent then needs new credentials).",
            dir.display()
        );
    }
    let written = Setup::generate()
        .write(&dir)
        .with_context(|| format!("writing the NATS setup into {}", dir.display()))?;
    say!("NATS setup written to {}", dir.display());
    say!(
        "  server:   nats-server -c {} -a 127.0.0.1 -p 4222 -sd /var/lib/nats",
        written.nats_conf.display()
    );
    say!(
        "  services: set -a; . {}; set +a   (then start planexec coordinator / gateway)",
        written.env_file.display()
    );
    say!("  agents get their own credentials when registered (`nats_credentials`).");
    say!("Keep the folder private: it holds the signing keys.");
    Ok(())
}
