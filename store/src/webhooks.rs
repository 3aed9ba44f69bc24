//! Webhook subscriptions and the durable outbox of their deliveries.
//!
//! [`enqueue`] writes one delivery per matching subscription, in the caller's transaction (the
//! coordinator's, so a notification exists exactly when the change it announces committed).
//! The delivery loop [`claim_due`]s what is due, leasing it so that replicas do not send it
//! twice, and records each outcome with [`delivered`] or [`attempt_failed`].

use planexec_schemas::webhook::{DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent};
use planexec_schemas::{Id, Timestamp};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

use crate::Error;

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: Id,
    url: String,
    events: Vec<String>,
    created_at: Timestamp,
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Self {
        Webhook {
            id: row.id,
            url: row.url,
            // Names the code no longer knows are dropped rather than refused.
            events: row
                .events
                .iter()
                .filter_map(|e| WebhookEvent::parse(e))
                .collect(),
            created_at: row.created_at,
        }
    }
}

/// Stores a subscription.
pub async fn insert(
    db: impl PgExecutor<'_>,
    id: Id,
    url: &str,
    events: &[WebhookEvent],
    secret: &str,
) -> Result<Webhook, Error> {
    let events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    let row: WebhookRow = sqlx::query_as(
        "INSERT INTO webhooks (id, url, events, secret) VALUES ($1, $2, $3, $4)
         RETURNING id, url, events, created_at",
    )
    .bind(id)
    .bind(url)
    .bind(&events)
    .bind(secret)
    .fetch_one(db)
    .await?;
    Ok(row.into())
}

/// Every subscription, oldest first.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<Webhook>, Error> {
    let rows: Vec<WebhookRow> =
        sqlx::query_as("SELECT id, url, events, created_at FROM webhooks ORDER BY created_at, id")
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(Webhook::from).collect())
}

/// Deletes a subscription and its deliveries; `false` when there was none.
pub async fn delete(db: impl PgExecutor<'_>, id: Id) -> Result<bool, Error> {
    let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Id,
    webhook_id: Id,
    event: String,
    status: String,
    attempts: i32,
    next_attempt_at: Timestamp,
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at: Timestamp,
    delivered_at: Option<Timestamp>,
    payload: Value,
}

impl TryFrom<DeliveryRow> for WebhookDelivery {
    type Error = Error;

    fn try_from(row: DeliveryRow) -> Result<Self, Error> {
        let status = match row.status.as_str() {
            "pending" => DeliveryStatus::Pending,
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            other => {
                return Err(Error::corrupt(
                    "webhook_deliveries",
                    format!("status {other:?}"),
                ));
            }
        };
        Ok(WebhookDelivery {
            id: row.id,
            webhook_id: row.webhook_id,
            event: row.event,
            status,
            attempts: row.attempts,
            next_attempt_at: (status == DeliveryStatus::Pending).then_some(row.next_attempt_at),
            last_status: row.last_status,
            last_error: row.last_error,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
            payload: row.payload,
        })
    }
}

/// A webhook's newest deliveries; `None` when there is no such webhook.
pub async fn deliveries(
    db: &mut PgConnection,
    webhook: Id,
    limit: i64,
) -> Result<Option<Vec<WebhookDelivery>>, Error> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM webhooks WHERE id = $1)")
        .bind(webhook)
        .fetch_one(&mut *db)
        .await?;
    if !exists {
        return Ok(None);
    }
    let rows: Vec<DeliveryRow> = sqlx::query_as(
        "SELECT id, webhook_id, event, status, attempts, next_attempt_at, last_status, last_error,
                created_at, delivered_at, payload
           FROM webhook_deliveries WHERE webhook_id = $1
          ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(webhook)
    .bind(limit)
    .fetch_all(&mut *db)
    .await?;
    rows.into_iter()
        .map(WebhookDelivery::try_from)
        .collect::<Result<_, _>>()
        .map(Some)
}

/// A notification to write, before it is matched with subscriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub event: WebhookEvent,
    pub payload: Value,
}

/// Writes a delivery of each notification to every subscription that asked for its event;
/// returns how many were written.
pub async fn enqueue(
    db: impl PgExecutor<'_>,
    notifications: &[NewNotification],
) -> Result<u64, Error> {
    if notifications.is_empty() {
        return Ok(0);
    }
    let events: Vec<&str> = notifications.iter().map(|n| n.event.as_str()).collect();
    let payloads: Vec<Value> = notifications.iter().map(|n| n.payload.clone()).collect();
    let done = sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, event, payload)
         SELECT gen_random_uuid(), w.id, n.event, n.payload
           FROM UNNEST($1::text[], $2::jsonb[]) AS n(event, payload)
           JOIN webhooks w ON n.event = ANY (w.events)",
    )
    .bind(&events)
    .bind(&payloads)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// A delivery to make now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueDelivery {
    pub id: Id,
    pub url: String,
    pub secret: String,
    pub event: String,
    pub payload: Value,
    /// Attempts made before this one.
    pub attempts: i32,
}

/// Takes up to `limit` pending deliveries due at `now`, and leases them until `lease_until` so
/// no other replica takes them meanwhile (a replica that dies mid-delivery leaves them to be
/// taken again when the lease ends).
pub async fn claim_due(
    db: impl PgExecutor<'_>,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> Result<Vec<DueDelivery>, Error> {
    Ok(sqlx::query_as(
        "WITH due AS (
             SELECT id FROM webhook_deliveries
              WHERE status = 'pending' AND next_attempt_at <= $1
              ORDER BY next_attempt_at LIMIT $3
              FOR UPDATE SKIP LOCKED)
         UPDATE webhook_deliveries d SET next_attempt_at = $2
           FROM due, webhooks w
          WHERE d.id = due.id AND w.id = d.webhook_id
         RETURNING d.id, w.url, w.secret, d.event, d.payload, d.attempts",
    )
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// The receiver took the delivery.
pub async fn delivered(db: impl PgExecutor<'_>, id: Id, http_status: u16) -> Result<(), Error> {
    sqlx::query(
        "UPDATE webhook_deliveries
            SET status = 'delivered', attempts = attempts + 1, last_status = $2,
                last_error = NULL, delivered_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(i32::from(http_status))
    .execute(db)
    .await?;
    Ok(())
}

/// The attempt failed: try again at `retry_at`, or never (`None`: the delivery failed).
pub async fn attempt_failed(
    db: impl PgExecutor<'_>,
    id: Id,
    http_status: Option<u16>,
    error: &str,
    retry_at: Option<Timestamp>,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE webhook_deliveries
            SET attempts = attempts + 1, last_status = $2, last_error = $3,
                status = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                next_attempt_at = COALESCE($4, next_attempt_at)
          WHERE id = $1",
    )
    .bind(id)
    .bind(http_status.map(i32::from))
    .bind(error)
    .bind(retry_at)
    .execute(db)
    .await?;
    Ok(())
}
