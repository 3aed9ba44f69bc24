//! Revoking users: the planexec account is re-signed with the revoked user keys listed and
//! pushed to the servers through the system account, so a deleted agent's credentials, or an
//! agent's credentials before a rotation, stop connecting at once (existing connections are
//! closed by the server).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use nkeys::KeyPair;

use crate::claims::Account;
use crate::{Error, Signer, jwt};

/// Re-signs and pushes the planexec account (cheap to clone).
#[derive(Debug, Clone)]
pub struct Revoker {
    account: String,
    account_signing: String,
    operator_signing: Arc<KeyPair>,
}

impl Revoker {
    /// From the account's signer and the operator signing key's seed file.
    pub fn new(signer: &Signer, operator_signing_seed_file: &Path) -> Result<Self, Error> {
        let seed = std::fs::read_to_string(operator_signing_seed_file)
            .map_err(|e| Error::io(operator_signing_seed_file, e))?;
        let operator_signing =
            KeyPair::from_seed(seed.trim()).map_err(|e| Error::Key(e.to_string()))?;
        Ok(Self {
            account: signer.account.clone(),
            account_signing: signer.key().public_key(),
            operator_signing: Arc::new(operator_signing),
        })
    }

    /// The account's JWT with `revoked` (user public key → revoked-before time, in seconds).
    pub fn account_jwt(&self, revoked: &BTreeMap<String, u64>) -> Result<String, Error> {
        let mut claims = Account::new(true, vec![self.account_signing.clone()]);
        claims.revocations = revoked.clone();
        jwt::encode(&self.account, "planexec", &claims, &self.operator_signing)
    }

    /// Pushes the account with `revoked` to the servers over `system` (a connection with the
    /// system user's credentials) and waits for the server's answer.
    pub async fn push(
        &self,
        system: &async_nats::Client,
        revoked: &BTreeMap<String, u64>,
    ) -> Result<(), Error> {
        let token = self.account_jwt(revoked)?;
        let subject = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", self.account);
        let answer = system
            .request(subject, token.into())
            .await
            .map_err(|e| Error::Nats(format!("pushing the account update: {e}")))?;
        let reply: serde_json::Value =
            serde_json::from_slice(&answer.payload).map_err(Error::Json)?;
        match reply.get("error") {
            Some(error) => Err(Error::Nats(format!(
                "the server refused the account update: {error}"
            ))),
            None => Ok(()),
        }
    }
}
