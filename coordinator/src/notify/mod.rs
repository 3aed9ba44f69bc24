//! Notifications: what a committed change announces to webhook subscribers, and their delivery.
//!
//! [`of_change`] reads an execution's change into notifications (blocked, needs review,
//! completed, failed, retries exhausted); the engine writes them with the change, in its
//! transaction ([`planexec_store::webhooks::enqueue`]), and the scheduler writes `agent.offline`
//! with its sweep. [`deliver`] sends them, [`sign`] signs them.

pub mod deliver;
pub mod sign;

use planexec_schemas::Timestamp;
use planexec_schemas::execution::{BlockedReason, ExecutionStatus, TaskStatus};
use planexec_schemas::webhook::{Notification, WebhookEvent};
use planexec_store::webhooks::NewNotification;
use serde_json::{Value, json};

use crate::machine::ExecutionState;

/// The notifications of an execution that went from `before` to `after`.
pub fn of_change(
    before: &ExecutionState,
    after: &ExecutionState,
    now: Timestamp,
) -> Vec<NewNotification> {
    if before.status == after.status {
        return Vec::new();
    }
    let event = match after.status {
        ExecutionStatus::Blocked => WebhookEvent::ExecutionBlocked,
        ExecutionStatus::NeedsReview => WebhookEvent::ExecutionNeedsReview,
        ExecutionStatus::Completed => WebhookEvent::ExecutionCompleted,
        ExecutionStatus::Failed => WebhookEvent::ExecutionFailed,
        _ => return Vec::new(),
    };
    let id = after.id;
    let mut data = json!({
        "execution_id": id,
        "plan_id": after.plan_id,
        "agent_id": after.agent_id,
        "status": after.status,
        "from": before.status,
        "progress": after.progress,
    });
    let mut text = format!(
        "planexec: execution {id} is {} (was {})",
        after.status, before.status
    );
    if let Some(reason) = after.blocked_reason {
        data["blocked_reason"] = json!(reason);
        data["blocked_detail"] = json!(after.blocked_detail);
        text.push_str(&format!(": {}", reason.as_str()));
        if let Some(detail) = &after.blocked_detail {
            text.push_str(&format!(" ({detail})"));
        }
    }
    let mut out = vec![notification(event, now, text, data)];
    if after.blocked_reason == Some(BlockedReason::RetriesExhausted) {
        // The leaves that failed in this change are the ones that spent their attempts.
        let spent = after
            .nodes
            .iter()
            .zip(&before.nodes)
            .filter(|(a, b)| a.status == TaskStatus::Failed && b.status != TaskStatus::Failed);
        for (node, _) in spent {
            let text = format!(
                "planexec: task {} \"{}\" of execution {id} failed on all {} attempts",
                node.spec.wbs, node.spec.title, node.failures
            );
            let data = json!({
                "execution_id": id,
                "plan_id": after.plan_id,
                "task_id": node.spec.id,
                "wbs": node.spec.wbs,
                "title": node.spec.title,
                "attempts": node.attempt,
                "failures": node.failures,
                "agent_id": node.assigned_agent,
            });
            out.push(notification(
                WebhookEvent::TaskRetriesExhausted,
                now,
                text,
                data,
            ));
        }
    }
    out
}

/// The notification that `agent` went offline.
pub fn agent_offline(agent: planexec_schemas::Id, now: Timestamp) -> NewNotification {
    notification(
        WebhookEvent::AgentOffline,
        now,
        format!("planexec: agent {agent} shows no sign of life and is offline"),
        json!({ "agent_id": agent }),
    )
}

fn notification(event: WebhookEvent, now: Timestamp, text: String, data: Value) -> NewNotification {
    let body = Notification {
        event,
        occurred_at: now,
        text,
        data,
    };
    NewNotification {
        event,
        payload: serde_json::to_value(&body).unwrap_or(Value::Null),
    }
}
