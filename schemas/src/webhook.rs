//! Webhooks: subscriptions an operator manages through the API, the notifications they receive,
//! and the state of each delivery.
//!
//! A notification is a JSON POST whose body names its event (`"event": "execution.completed"`)
//! and carries a `text` line, so a Slack incoming webhook shows it as a message. It is signed:
//! `X-Planexec-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the
//! subscription's secret>` (see docs/operations.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Id, Timestamp};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Planexec-Signature";
/// The header naming the event.
pub const EVENT_HEADER: &str = "X-Planexec-Event";
/// The header carrying the delivery's id (the same across retries: receivers deduplicate by it).
pub const DELIVERY_HEADER: &str = "X-Planexec-Delivery";

/// What a subscription can ask to be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum WebhookEvent {
    #[serde(rename = "execution.blocked")]
    ExecutionBlocked,
    #[serde(rename = "execution.needs_review")]
    ExecutionNeedsReview,
    #[serde(rename = "execution.completed")]
    ExecutionCompleted,
    #[serde(rename = "execution.failed")]
    ExecutionFailed,
    #[serde(rename = "agent.offline")]
    AgentOffline,
    #[serde(rename = "task.retries_exhausted")]
    TaskRetriesExhausted,
}

impl WebhookEvent {
    pub const ALL: [Self; 6] = [
        Self::ExecutionBlocked,
        Self::ExecutionNeedsReview,
        Self::ExecutionCompleted,
        Self::ExecutionFailed,
        Self::AgentOffline,
        Self::TaskRetriesExhausted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExecutionBlocked => "execution.blocked",
            Self::ExecutionNeedsReview => "execution.needs_review",
            Self::ExecutionCompleted => "execution.completed",
            Self::ExecutionFailed => "execution.failed",
            Self::AgentOffline => "agent.offline",
            Self::TaskRetriesExhausted => "task.retries_exhausted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

impl std::fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /api/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where notifications are POSTed: an `http://` or `https://` URL.
    #[schemars(length(min = 8, max = 2000))]
    pub url: String,
    /// The events to receive, at least one.
    #[schemars(length(min = 1))]
    pub events: Vec<WebhookEvent>,
}

/// A subscription, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Webhook {
    pub id: Id,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub created_at: Timestamp,
}

/// The answer of `POST /api/webhooks`: the subscription and its signing secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

/// `GET /api/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; no more will be made.
    Failed,
}

/// One notification to one subscription, and how its delivery went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookDelivery {
    pub id: Id,
    pub webhook_id: Id,
    pub event: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<Timestamp>,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<i32>,
    /// What went wrong last time.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    /// The body sent.
    pub payload: Value,
}

/// `GET /api/webhooks/{id}/deliveries`: the newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<WebhookDelivery>,
}

/// The body of a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    pub event: WebhookEvent,
    pub occurred_at: Timestamp,
    /// One line for people (and the message Slack shows).
    pub text: String,
    /// What the event is about: `execution_id`, `plan_id`, `status`, `from`, `blocked_reason`,
    /// `task_id`, `agent_id`, as they apply.
    pub data: Value,
}
