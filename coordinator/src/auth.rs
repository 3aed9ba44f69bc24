//! Agents' NATS credentials, when the installation's NATS has authentication: a user of its own
//! for every agent registered (signed with the planexec account's signing key, so the servers
//! need no change), and revocations pushed to the servers when an agent is deleted or its
//! credentials rotated (see `planexec_nats_auth`).

use std::collections::BTreeMap;
use std::sync::Arc;

use planexec_nats_auth::{AgentCredentials, Revoker, Signer};
use planexec_schemas::Id;
use planexec_schemas::subjects::Namespace;
use sqlx::PgPool;
use tokio::sync::OnceCell;

use crate::{Error, NatsAuthOptions};

/// Mints and revokes agents' NATS users (cheap to clone).
#[derive(Debug, Clone)]
pub struct NatsAuth {
    signer: Signer,
    revocations: Option<Arc<Revocations>>,
}

#[derive(Debug)]
struct Revocations {
    revoker: Revoker,
    system_creds: std::path::PathBuf,
    servers: String,
    /// Connected at the first push.
    system: OnceCell<async_nats::Client>,
}

impl NatsAuth {
    /// Loads the keys `options` names.
    pub fn load(options: &NatsAuthOptions) -> Result<Self, Error> {
        let auth = |e: planexec_nats_auth::Error| Error::nats("loading the NATS signing keys", e);
        let signer = Signer::from_seed_file(options.account.clone(), &options.signing_key_file)
            .map_err(auth)?;
        let revocations = match (&options.operator_signing_key_file, &options.system_creds) {
            (Some(operator), Some(system_creds)) => Some(Arc::new(Revocations {
                revoker: Revoker::new(&signer, operator).map_err(auth)?,
                system_creds: system_creds.clone(),
                servers: options.servers.clone(),
                system: OnceCell::new(),
            })),
            _ => None,
        };
        Ok(Self {
            signer,
            revocations,
        })
    }

    /// New credentials for `agent`.
    pub fn mint(&self, namespace: &Namespace, agent: Id) -> Result<AgentCredentials, Error> {
        planexec_nats_auth::mint(&self.signer, namespace, agent)
            .map_err(|e| Error::nats("minting an agent's NATS credentials", e))
    }

    /// Pushes every revocation stored to the NATS servers (idempotent; also at start-up, so
    /// servers that lost their account store learn them again). Without the operator signing
    /// key and a system user nothing can be pushed, which is logged once per call.
    pub async fn push_revocations(&self, pool: &PgPool) -> Result<(), Error> {
        let Some(r) = &self.revocations else {
            tracing::warn!(
                "NATS credentials cannot be revoked: set PLANEXE_NATS_OPERATOR_SIGNING_KEY_FILE and \
                 PLANEXE_NATS_SYSTEM_CREDS (planexec nats init writes both)"
            );
            return Ok(());
        };
        let revoked: BTreeMap<String, u64> = planexec_store::agents::revocations(pool)
            .await?
            .into_iter()
            .map(|(user, at)| (user, u64::try_from(at.timestamp()).unwrap_or(0) + 1))
            .collect();
        if revoked.is_empty() {
            return Ok(());
        }
        let system = r
            .system
            .get_or_try_init(|| async {
                async_nats::ConnectOptions::new()
                    .name("planexec-coordinator-system")
                    .credentials_file(&r.system_creds)
                    .await
                    .map_err(|e| Error::nats("reading the NATS system credentials", e))?
                    .connect(planexec_schemas::subjects::nats_servers(&r.servers))
                    .await
                    .map_err(|e| Error::nats("connecting as the NATS system user", e))
            })
            .await?;
        r.revoker
            .push(system, &revoked)
            .await
            .map_err(|e| Error::nats("pushing NATS revocations", e))
    }
}
