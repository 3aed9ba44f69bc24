//! Registering an agent: through the gateway (`POST /api/agents`, operator token) or straight
//! to the coordinator (`planexec.cmd.register_agent`, where the agent makes its own token and
//! sends only its SHA-256).

use std::time::Duration;

use planexec_schemas::Id;
use planexec_schemas::api::{RegisterAgentRequest, RegisteredAgent};
use planexec_schemas::command::{AgentRegistration, Command, RegisterAgent, Reply};
use planexec_schemas::subjects::Namespace;
use planexec_schemas::validate::Validate;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::transport::http;

/// An agent's id and secret token (`Authorization: Bearer <token>` on the gateway).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub agent_id: Id,
    pub token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("agent_id", &self.agent_id)
            .field("token", &"***")
            .finish()
    }
}

impl From<&RegisteredAgent> for Credentials {
    fn from(registered: &RegisteredAgent) -> Self {
        Self {
            agent_id: registered.agent.id,
            token: registered.token.clone(),
        }
    }
}

/// What a new agent says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    /// Free text: "assistant", "script", "person".
    pub role: String,
    /// The capabilities tasks are routed by, e.g. `["send_email"]`.
    pub capabilities: Vec<String>,
}

/// Where to register.
#[derive(Clone, PartialEq, Eq)]
pub enum RegisterVia {
    /// `POST {url}/api/agents` with the operator token.
    Gateway { url: String, operator_token: String },
    /// The coordinator's `register_agent` command over NATS.
    Nats { url: String },
}

impl std::fmt::Debug for RegisterVia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gateway { url, .. } => f
                .debug_struct("Gateway")
                .field("url", url)
                .field("operator_token", &"***")
                .finish(),
            Self::Nats { url } => f.debug_struct("Nats").field("url", url).finish(),
        }
    }
}

/// Registers a new agent and returns it with its token (shown this once: keep it).
pub async fn register(
    via: &RegisterVia,
    namespace: &Namespace,
    registration: &Registration,
) -> Result<RegisteredAgent, Error> {
    let request = RegisterAgentRequest {
        name: registration.name.clone(),
        role: registration.role.clone(),
        capabilities: registration.capabilities.clone(),
    };
    if let Err(errors) = request.validate() {
        let parts: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        return Err(Error::Options(format!(
            "the registration is invalid: {}",
            parts.join("; ")
        )));
    }
    match via {
        RegisterVia::Gateway {
            url,
            operator_token,
        } => http::register(url, operator_token, &request).await,
        RegisterVia::Nats { url } => {
            let client = crate::transport::nats::connect(
                url,
                "planexec-agent-registration",
                &Default::default(),
            )
            .await?;
            register_over_nats(&client, namespace, request, Duration::from_secs(10)).await
        }
    }
}

/// Registers through the coordinator on an open NATS connection.
pub async fn register_over_nats(
    client: &async_nats::Client,
    namespace: &Namespace,
    request: RegisterAgentRequest,
    timeout: Duration,
) -> Result<RegisteredAgent, Error> {
    // The id is chosen here so that the token can name it (the gateway finds the agent by it).
    let id = planexec_schemas::new_id();
    let token = new_token(id);
    let command = RegisterAgent {
        id: Some(id),
        name: request.name,
        role: request.role,
        capabilities: request.capabilities,
        token_hash: token_hash(&token),
    };
    let payload = serde_json::to_vec(&command).map_err(|e| Error::Protocol {
        what: "the register_agent command".into(),
        message: e.to_string(),
    })?;
    let subject = namespace.command_subject(RegisterAgent::VERB);
    let answer = tokio::time::timeout(timeout, client.request(subject, payload.into()))
        .await
        .map_err(|_| {
            Error::unreachable(
                "the coordinator",
                format!("no answer to register_agent within {} s", timeout.as_secs()),
            )
        })?
        .map_err(|e| Error::unreachable("the coordinator (register_agent)", e))?;
    let reply: Reply<AgentRegistration> =
        serde_json::from_slice(&answer.payload).map_err(|e| Error::Protocol {
            what: "the coordinator".into(),
            message: format!("the answer to register_agent does not parse: {e}"),
        })?;
    let registration = Result::<AgentRegistration, _>::from(reply)?;
    Ok(RegisteredAgent {
        agent: registration.agent,
        token,
        nats_credentials: registration.nats_credentials,
    })
}

/// A fresh token for agent `id`: `pxa_<id>_<32 random bytes, hex>` (the shape the gateway
/// expects, see [`planexec_schemas::agent::token`]).
pub fn new_token(id: Id) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    planexec_schemas::agent::token::format(id, &hex::encode(bytes))
}

/// What the coordinator stores of a token: its hex SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_their_hash_is_what_the_coordinator_expects() {
        let id = planexec_schemas::new_id();
        let (a, b) = (new_token(id), new_token(id));
        assert_ne!(a, b);
        assert_eq!(planexec_schemas::agent::token::agent_of(&a), Some(id));
        let hash = token_hash(&a);
        assert_eq!(hash.len(), 64);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn credentials_and_operator_tokens_never_print() {
        let c = Credentials {
            agent_id: planexec_schemas::new_id(),
            token: "secret-token".into(),
        };
        let via = RegisterVia::Gateway {
            url: "http://x".into(),
            operator_token: "operator-secret".into(),
        };
        assert!(!format!("{c:?}{via:?}").contains("secret"));
    }

    #[tokio::test]
    async fn an_invalid_registration_is_refused_before_anything_is_sent() {
        let error = register(
            &RegisterVia::Nats {
                url: "nats://127.0.0.1:1".into(),
            },
            &Namespace::default(),
            &Registration {
                name: String::new(),
                role: "assistant".into(),
                capabilities: vec!["Not A Capability".into()],
            },
        )
        .await
        .expect_err("registered an agent without a name");
        let text = error.to_string();
        assert!(
            text.contains("name") && text.contains("capabilities[0]"),
            "{text}"
        );
    }
}
