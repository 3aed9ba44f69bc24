//! An agent's NATS user: exactly what the agent protocol needs, for that agent alone.
//!
//! It may publish its own events and heartbeats, pull and acknowledge from its own durable
//! consumer, and receive replies and notices under its own inbox prefix. Nothing else: no
//! `planexec.cmd.*` (agents never send commands), no other agent's subjects or consumer, no
//! JetStream administration, no `_INBOX.>`.

use nkeys::KeyPair;
use planexec_schemas::Id;
use planexec_schemas::subjects::Namespace;

use crate::claims::{Permissions, Subjects, User};
use crate::{Error, Signer, creds, jwt};

/// Credentials minted for one agent.
#[derive(Debug, Clone)]
pub struct AgentCredentials {
    /// The agent's NATS user public key (what a revocation names).
    pub user_key: String,
    /// The text of a NATS credentials file (JWT and seed).
    pub creds: String,
}

/// What `agent_id` may do over NATS under `namespace`.
pub fn permissions(namespace: &Namespace, agent_id: Id) -> Permissions {
    let stream = namespace.tasks_stream();
    let consumer = namespace.agent_consumer(agent_id);
    let inbox = namespace.agent_inbox_prefix(agent_id);
    Permissions {
        publish: Subjects::allow([
            // its events, one execution per last token: `<ns>.events.<agent>.<execution>`
            namespace.agent_events_wildcard(agent_id),
            namespace.heartbeats_subject(agent_id),
            // pulling from its own consumer, and looking it up
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
            format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}"),
            // ack, nak, in-progress and term of the messages it was given
            format!("$JS.ACK.{stream}.{consumer}.>"),
        ]),
        subscribe: Subjects::allow([format!("{inbox}.>"), namespace.notices_subject(agent_id)]),
    }
}

/// Mints a new NATS user for `agent_id`, signed with the account's signing key.
pub fn mint(
    signer: &Signer,
    namespace: &Namespace,
    agent_id: Id,
) -> Result<AgentCredentials, Error> {
    let user = KeyPair::new_user();
    let claims = User::new(signer.account.clone(), permissions(namespace, agent_id));
    let token = jwt::encode(
        &user.public_key(),
        &format!("agent-{agent_id}"),
        &claims,
        signer.key(),
    )?;
    let seed = user.seed().map_err(|e| Error::Key(e.to_string()))?;
    Ok(AgentCredentials {
        user_key: user.public_key(),
        creds: creds::file(&token, &seed),
    })
}
