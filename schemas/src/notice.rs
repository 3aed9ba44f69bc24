//! What the coordinator tells one agent over NATS: `planexec.notices.<agent_id>` (core NATS,
//! fire and forget). An HTTP agent learns the same from the answer to its report.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// An event the agent published was not applied, and why. Re-sending it unchanged will not
/// help; a `stale_attempt` or `task_not_in_flight` usually means the task moved on without the
/// agent (timed out, cancelled, given to someone else).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RejectionNotice {
    /// The refused event's id, when the message could be read as an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// A stable code, e.g. `invalid_event`, `unknown_execution`, `stale_attempt`, `wrong_agent`.
    pub code: String,
    /// Why, in words.
    pub reason: String,
    /// The subject the event was published on.
    pub subject: String,
    pub timestamp: Timestamp,
}
