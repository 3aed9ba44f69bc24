//! A whole NATS authentication setup for one installation, made once by `planexec nats init`.
//!
//! Trust runs operator → accounts → users, as NATS's decentralised authentication has it:
//! - the **operator** signs the accounts (with its signing key, which the coordinator keeps to
//!   re-sign the account when it revokes a user);
//! - the **system account** is the server's own; one user of it may push account updates;
//! - the **planexec account** holds the streams; its signing key signs users, so a new agent
//!   gets credentials without any change to the server;
//! - the **service user** (coordinator and gateway) may do anything in the planexec account.
//!
//! The server resolves accounts with the `full` resolver, preloaded with both accounts, so
//! that a pushed account update (a revocation) takes effect on every server at once.

use std::path::{Path, PathBuf};

use nkeys::KeyPair;

use crate::claims::{Account, Operator, Permissions, Subjects, User};
use crate::{Error, Signer, creds, jwt};

/// The keys of an installation; seeds are secrets.
#[derive(Debug)]
pub struct Setup {
    operator: KeyPair,
    operator_signing: KeyPair,
    system: KeyPair,
    account: KeyPair,
    account_signing: KeyPair,
}

/// The files [`Setup::write`] made, and the account they are for.
#[derive(Debug, Clone)]
pub struct Written {
    pub nats_conf: PathBuf,
    pub env_file: PathBuf,
    pub service_creds: PathBuf,
    pub system_creds: PathBuf,
    pub account: String,
    pub account_signing_key: PathBuf,
    pub operator_signing_key: PathBuf,
}

impl Written {
    /// The setup written into `dir` before, found through its `planexec.env`.
    pub fn read(dir: &Path) -> Result<Self, Error> {
        let env_file = dir.join("planexec.env");
        let text = std::fs::read_to_string(&env_file).map_err(|e| Error::io(&env_file, e))?;
        let value = |key: &str| -> Result<String, Error> {
            text.lines()
                .filter_map(|line| line.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
                .ok_or_else(|| {
                    Error::io(
                        &env_file,
                        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("no {key}")),
                    )
                })
        };
        Ok(Self {
            nats_conf: dir.join("nats.conf"),
            service_creds: value(env::CREDS)?.into(),
            system_creds: value(env::SYSTEM_CREDS)?.into(),
            account: value(env::ACCOUNT)?,
            account_signing_key: value(env::SIGNING_KEY_FILE)?.into(),
            operator_signing_key: value(env::OPERATOR_SIGNING_KEY_FILE)?.into(),
            env_file,
        })
    }
}

/// Environment variables naming the setup's files, as the services read them.
pub mod env {
    /// The service user's credentials (coordinator, gateway).
    pub const CREDS: &str = "PLANEXE_NATS_CREDS";
    /// The planexec account's public key (agents' users belong to it).
    pub const ACCOUNT: &str = "PLANEXE_NATS_ACCOUNT";
    /// The account signing key's seed: signs agents' users.
    pub const SIGNING_KEY_FILE: &str = "PLANEXE_NATS_SIGNING_KEY_FILE";
    /// The operator signing key's seed: re-signs the account to revoke a user.
    pub const OPERATOR_SIGNING_KEY_FILE: &str = "PLANEXE_NATS_OPERATOR_SIGNING_KEY_FILE";
    /// A system-account user's credentials: pushes account updates to the servers.
    pub const SYSTEM_CREDS: &str = "PLANEXE_NATS_SYSTEM_CREDS";
}

impl Setup {
    /// New keys for a new installation.
    pub fn generate() -> Self {
        Self {
            operator: KeyPair::new_operator(),
            operator_signing: KeyPair::new_operator(),
            system: KeyPair::new_account(),
            account: KeyPair::new_account(),
            account_signing: KeyPair::new_account(),
        }
    }

    /// The signer of agents' users.
    pub fn signer(&self) -> Result<Signer, Error> {
        Signer::from_seed(self.account.public_key(), &seed(&self.account_signing)?)
    }

    /// The operator's JWT (self-signed).
    pub fn operator_jwt(&self) -> Result<String, Error> {
        let claims = Operator::new(
            self.system.public_key(),
            vec![self.operator_signing.public_key()],
        );
        jwt::encode(
            &self.operator.public_key(),
            "planexec",
            &claims,
            &self.operator,
        )
    }

    /// The system account's JWT.
    pub fn system_jwt(&self) -> Result<String, Error> {
        let claims = Account::new(false, Vec::new());
        jwt::encode(
            &self.system.public_key(),
            "SYS",
            &claims,
            &self.operator_signing,
        )
    }

    /// The planexec account's JWT, without revocations.
    pub fn account_jwt(&self) -> Result<String, Error> {
        let claims = Account::new(true, vec![self.account_signing.public_key()]);
        jwt::encode(
            &self.account.public_key(),
            "planexec",
            &claims,
            &self.operator_signing,
        )
    }

    /// Credentials of the service user: everything in the planexec account.
    pub fn service_creds(&self) -> Result<String, Error> {
        let user = KeyPair::new_user();
        let claims = User::new(self.account.public_key(), Permissions::default());
        let token = jwt::encode(
            &user.public_key(),
            "planexec-service",
            &claims,
            &self.account_signing,
        )?;
        Ok(creds::file(&token, &seed(&user)?))
    }

    /// Credentials of the system user: only account updates, and their replies.
    pub fn system_creds(&self) -> Result<String, Error> {
        let user = KeyPair::new_user();
        let permissions = Permissions {
            publish: Subjects::allow([
                "$SYS.REQ.CLAIMS.UPDATE".to_owned(),
                "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE".to_owned(),
            ]),
            subscribe: Subjects::allow(["_INBOX.>".to_owned()]),
        };
        let claims = User::new(self.system.public_key(), permissions);
        let token = jwt::encode(&user.public_key(), "planexec-system", &claims, &self.system)?;
        Ok(creds::file(&token, &seed(&user)?))
    }

    /// The server configuration: JetStream, the operator, and the preloaded accounts. Port,
    /// address and store folder come from the command line (`-a`, `-p`, `-sd`), so one file
    /// serves on any port.
    pub fn server_config(&self, resolver_dir: &Path) -> Result<String, Error> {
        Ok(format!(
            "# NATS server configuration of a planexec installation, written by `planexec nats init`.\n\
             # Start it with: nats-server -c nats.conf -a 127.0.0.1 -p 4222 -sd /var/lib/nats\n\
             # Accounts are resolved from JWTs; agents' users are signed by the planexec account's\n\
             # signing key, so registering an agent needs no change here.\n\
             jetstream: enabled\n\
             operator: \"{operator}\"\n\
             system_account: {system}\n\
             resolver: {{\n    type: full\n    dir: \"{dir}\"\n    allow_delete: false\n    interval: \"2m\"\n}}\n\
             resolver_preload: {{\n    {system}: \"{system_jwt}\"\n    {account}: \"{account_jwt}\"\n}}\n",
            operator = self.operator_jwt()?,
            system = self.system.public_key(),
            account = self.account.public_key(),
            system_jwt = self.system_jwt()?,
            account_jwt = self.account_jwt()?,
            dir = resolver_dir.display(),
        ))
    }

    /// Writes the configuration, the credentials, the signing keys and `planexec.env` into `dir`
    /// (created when missing). Secrets are readable by their owner only.
    pub fn write(&self, dir: &Path) -> Result<Written, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let dir = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
        let nats_conf = dir.join("nats.conf");
        write(&nats_conf, &self.server_config(&dir.join("jwt"))?, false)?;
        let service_creds = dir.join("service.creds");
        write(&service_creds, &self.service_creds()?, true)?;
        let system_creds = dir.join("system.creds");
        write(&system_creds, &self.system_creds()?, true)?;
        let signing = dir.join("account-signing.nk");
        write(&signing, &seed(&self.account_signing)?, true)?;
        let operator_signing = dir.join("operator-signing.nk");
        write(&operator_signing, &seed(&self.operator_signing)?, true)?;
        write(&dir.join("operator.nk"), &seed(&self.operator)?, true)?;
        let env_file = dir.join("planexec.env");
        let env = format!(
            "# What the coordinator and the gateway need to connect to the NATS of {conf}.\n\
             {creds}={service}\n{account_var}={account}\n{signing_var}={signing}\n\
             {operator_var}={operator_signing}\n{system_var}={system}\n",
            conf = nats_conf.display(),
            creds = env::CREDS,
            service = service_creds.display(),
            account_var = env::ACCOUNT,
            account = self.account.public_key(),
            signing_var = env::SIGNING_KEY_FILE,
            signing = signing.display(),
            operator_var = env::OPERATOR_SIGNING_KEY_FILE,
            operator_signing = operator_signing.display(),
            system_var = env::SYSTEM_CREDS,
            system = system_creds.display(),
        );
        write(&env_file, &env, true)?;
        Ok(Written {
            nats_conf,
            env_file,
            service_creds,
            system_creds,
            account: self.account.public_key(),
            account_signing_key: signing,
            operator_signing_key: operator_signing,
        })
    }
}

fn seed(key: &KeyPair) -> Result<String, Error> {
    key.seed().map_err(|e| Error::Key(e.to_string()))
}

fn write(path: &Path, text: &str, secret: bool) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if secret {
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| Error::io(path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))
}
