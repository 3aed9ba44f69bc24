//! Agents: who does the work, what they can do, and whether they are alive.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// The capabilities of Larry, the reference AI assistant, plus the fallback for people.
pub mod capability {
    pub const SEND_EMAIL: &str = "send_email";
    pub const MAKE_PHONE_CALL: &str = "make_phone_call";
    pub const SEARCH_GOOGLE_MAPS: &str = "search_google_maps";
    pub const SCHEDULE_CALENDAR_EVENT: &str = "schedule_calendar_event";
    pub const CONDUCT_INTERVIEW: &str = "conduct_interview";
    pub const DOCUMENT_FINDINGS: &str = "document_findings";
    pub const DRAFT_DOCUMENT: &str = "draft_document";
    pub const MANAGE_CSV: &str = "manage_csv";
    /// What no agent capability fits: a person has to look at it.
    pub const HUMAN_REVIEW: &str = "human_review";

    /// Larry's eight capabilities.
    pub const LARRY: [&str; 8] = [
        SEND_EMAIL,
        MAKE_PHONE_CALL,
        SEARCH_GOOGLE_MAPS,
        SCHEDULE_CALENDAR_EVENT,
        CONDUCT_INTERVIEW,
        DOCUMENT_FINDINGS,
        DRAFT_DOCUMENT,
        MANAGE_CSV,
    ];

    /// A capability name is lower snake case, 1 to 64 characters, starting with a letter.
    pub fn is_valid_name(name: &str) -> bool {
        let mut chars = name.chars();
        matches!(chars.next(), Some('a'..='z'))
            && name.len() <= 64
            && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
    }
}

/// The shape of agent tokens: `pxa_<agent id, 32 hex>_<secret>`.
///
/// The id inside lets the gateway find the agent's stored hash without an index over hashes;
/// the secret is what proves the agent. Only the SHA-256 of the whole token is ever stored.
pub mod token {
    use crate::Id;

    const PREFIX: &str = "pxa_";

    /// The token of `agent` with `secret` (hex or any URL-safe text without `_`).
    pub fn format(agent: Id, secret: &str) -> String {
        format!("{PREFIX}{}_{secret}", agent.simple())
    }

    /// The agent a token claims to belong to (to be verified against the stored hash).
    pub fn agent_of(token: &str) -> Option<Id> {
        let rest = token.strip_prefix(PREFIX)?;
        let (id, secret) = rest.split_once('_')?;
        if secret.len() < 16 {
            return None;
        }
        Id::try_parse(id).ok()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn a_token_names_its_agent() {
            let agent = crate::new_id();
            let token = super::format(agent, "0123456789abcdef0123");
            assert_eq!(super::agent_of(&token), Some(agent));
            assert_eq!(super::agent_of("pxa_nothex_0123456789abcdef"), None);
            assert_eq!(super::agent_of(&super::format(agent, "short")), None);
            assert_eq!(super::agent_of("Bearer x"), None);
        }
    }
}

/// Whether an agent shows signs of life.
///
/// Liveness comes from the delivery channel (a poll, a fetch, a heartbeat, an event), never
/// from a database row per beat; the coordinator flushes the newest sign of life periodically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// A sign of life arrived within the offline threshold.
    Online,
    /// Silent for longer than the offline threshold; its tasks wait or are reassigned.
    Offline,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "online" => Some(Self::Online),
            "offline" => Some(Self::Offline),
            _ => None,
        }
    }
}

/// A registered agent, as the API shows it. The token hash never leaves the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Agent {
    pub id: Id,
    pub name: String,
    /// Free text: "assistant", "script", "person", ...
    pub role: String,
    /// What the agent can do, e.g. `send_email`; tasks are routed by these names.
    pub capabilities: Vec<String>,
    pub status: AgentStatus,
    /// The newest sign of life the coordinator has recorded (flushed every few seconds).
    pub last_heartbeat: Option<Timestamp>,
    pub created_at: Timestamp,
}
