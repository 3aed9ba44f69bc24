//! NATS authentication for planexec, the NATS way: decentralised JWT authentication.
//!
//! An installation has an operator, a system account and one planexec account whose signing
//! key signs users. The coordinator and the gateway connect as the service user; every agent
//! gets a user of its own, minted at registration, that may do only what the agent protocol
//! needs for that agent (see [`agent::permissions`]). Adding an agent changes nothing on the
//! server; revoking one re-signs the account with the user listed and pushes it to the servers.
//!
//! - [`setup`]: the keys, JWTs, server configuration and environment of an installation.
//! - [`agent`]: an agent's permissions and credentials.
//! - [`account`]: revocations, pushed through the system account.
//! - [`claims`], `jwt`, [`creds`]: the formats nats-server reads.

pub mod account;
pub mod agent;
pub mod claims;
pub mod creds;
mod jwt;
pub mod setup;

use std::path::Path;
use std::sync::Arc;

use nkeys::KeyPair;

pub use account::Revoker;
pub use agent::{AgentCredentials, mint};
pub use jwt::claims as decode_claims;
pub use setup::{Setup, Written};

/// What went wrong making or reading keys, tokens or files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("nkey: {0}")]
    Key(String),
    #[error("JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("{0}")]
    Malformed(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("NATS: {0}")]
    Nats(String),
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Signs users of the planexec account (cheap to clone).
#[derive(Debug, Clone)]
pub struct Signer {
    /// The account's public key, named in every user JWT as its issuer account.
    pub account: String,
    key: Arc<KeyPair>,
}

impl Signer {
    /// A signer from the account's public key and its signing key's seed.
    pub fn from_seed(account: String, seed: &str) -> Result<Self, Error> {
        let key = KeyPair::from_seed(seed.trim()).map_err(|e| Error::Key(e.to_string()))?;
        if !account.starts_with('A') {
            return Err(Error::Malformed(format!(
                "{account:?} is not an account public key (they start with 'A')"
            )));
        }
        Ok(Self {
            account,
            key: Arc::new(key),
        })
    }

    /// A signer from the account's public key and a file holding the signing key's seed.
    pub fn from_seed_file(account: String, path: &Path) -> Result<Self, Error> {
        let seed = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_seed(account, &seed)
    }

    pub(crate) fn key(&self) -> &KeyPair {
        &self.key
    }
}
