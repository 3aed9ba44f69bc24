//! What an operator, an account and a user JWT say, in the field names of nats-server 2.9.
//!
//! `-1` means "no limit" throughout, as nats-server reads it.

use std::collections::BTreeMap;

use serde::Serialize;

/// An operator: the root of trust the server is configured with.
#[derive(Debug, Clone, Serialize)]
pub struct Operator {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub version: u8,
    /// The account the server uses for its own traffic (`$SYS`).
    pub system_account: String,
    /// Keys that may sign accounts besides the operator's own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<String>,
}

impl Operator {
    pub fn new(system_account: String, signing_keys: Vec<String>) -> Self {
        Self {
            kind: "operator",
            version: 2,
            system_account,
            signing_keys,
        }
    }
}

/// An account: a namespace of subjects and streams, with its limits.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub version: u8,
    pub limits: AccountLimits,
    /// Keys that may sign users of this account; agents' users are signed with one, so adding
    /// an agent needs no server reload.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<String>,
    pub default_permissions: Permissions,
    /// User public keys whose JWTs issued before the given time (seconds) no longer connect.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub revocations: BTreeMap<String, u64>,
}

impl Account {
    /// An account without limits; `jetstream` gives it unlimited JetStream storage.
    pub fn new(jetstream: bool, signing_keys: Vec<String>) -> Self {
        let storage = if jetstream { -1 } else { 0 };
        Self {
            kind: "account",
            version: 2,
            limits: AccountLimits {
                subs: -1,
                data: -1,
                payload: -1,
                imports: -1,
                exports: -1,
                wildcards: true,
                conn: -1,
                leaf: -1,
                mem_storage: storage,
                disk_storage: storage,
                streams: if jetstream { -1 } else { 0 },
                consumer: if jetstream { -1 } else { 0 },
            },
            signing_keys,
            default_permissions: Permissions::default(),
            revocations: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountLimits {
    pub subs: i64,
    pub data: i64,
    pub payload: i64,
    pub imports: i64,
    pub exports: i64,
    pub wildcards: bool,
    pub conn: i64,
    pub leaf: i64,
    /// JetStream is enabled for the account when its storage limits are not 0.
    pub mem_storage: i64,
    pub disk_storage: i64,
    pub streams: i64,
    pub consumer: i64,
}

/// A user: one connection identity with what it may publish and subscribe to.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub version: u8,
    #[serde(flatten)]
    pub permissions: Permissions,
    pub subs: i64,
    pub data: i64,
    pub payload: i64,
    /// The account the user belongs to (its JWT is signed by one of the account's signing keys).
    pub issuer_account: String,
}

impl User {
    pub fn new(issuer_account: String, permissions: Permissions) -> Self {
        Self {
            kind: "user",
            version: 2,
            permissions,
            subs: -1,
            data: -1,
            payload: -1,
            issuer_account,
        }
    }
}

/// Publish and subscribe permissions; an empty side allows everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Permissions {
    #[serde(rename = "pub", skip_serializing_if = "Subjects::is_empty")]
    pub publish: Subjects,
    #[serde(rename = "sub", skip_serializing_if = "Subjects::is_empty")]
    pub subscribe: Subjects,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Subjects {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl Subjects {
    pub fn allow(subjects: impl IntoIterator<Item = String>) -> Self {
        Self {
            allow: subjects.into_iter().collect(),
            deny: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}
