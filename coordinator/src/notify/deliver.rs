//! The delivery loop: takes due deliveries from the outbox (`webhook_deliveries`), POSTs each
//! signed, and records the outcome. A failed attempt (no answer, or not 2xx) is tried again
//! after an exponential back-off (backon's), stored in the row, so a restart loses nothing;
//! after `max_attempts` the delivery is marked failed.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::Utc;
use planexec_schemas::webhook::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER};
use planexec_store::webhooks::{self, DueDelivery};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How deliveries are made and retried.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// How often the outbox is looked at.
    pub poll_interval: Duration,
    /// The wait after the first failed attempt; it doubles with each failure.
    pub first_retry: Duration,
    /// The longest wait between attempts.
    pub max_retry: Duration,
    /// Attempts before a delivery is given up (marked `failed`).
    pub max_attempts: u32,
    /// How long a receiver may take to answer.
    pub timeout: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(30 * 60),
            max_attempts: 12,
            timeout: Duration::from_secs(10),
        }
    }
}

impl WebhookOptions {
    /// The wait before the attempt that follows `failures` failed ones.
    pub fn backoff(&self, failures: u32) -> Duration {
        ExponentialBuilder::default()
            .with_min_delay(self.first_retry)
            .with_max_delay(self.max_retry)
            .with_factor(2.0)
            .without_max_times()
            .build()
            .nth(failures.saturating_sub(1) as usize)
            .unwrap_or(self.max_retry)
    }
}

/// Most deliveries taken at once.
const CLAIM: i64 = 32;

/// Delivers until `shutdown`.
pub async fn run(pool: PgPool, options: WebhookOptions, shutdown: CancellationToken) {
    let client = match planexec_tls::client_builder()
        .timeout(options.timeout)
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot make an HTTP client; webhooks are not delivered");
            return;
        }
    };
    // A claimed delivery is leased for longer than its attempt may take.
    let lease =
        chrono::Duration::from_std(options.timeout * 3).unwrap_or(chrono::Duration::minutes(1));
    let mut tick = tokio::time::interval(options.poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Utc::now();
        let due = match webhooks::claim_due(&pool, now, now + lease, CLAIM).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the webhook outbox; trying again");
                continue;
            }
        };
        let attempts = due
            .into_iter()
            .map(|d| attempt(&pool, &client, &options, d));
        futures::future::join_all(attempts).await;
    }
}

/// One attempt at one delivery, and its outcome recorded.
async fn attempt(
    pool: &PgPool,
    client: &reqwest::Client,
    options: &WebhookOptions,
    d: DueDelivery,
) {
    let body = serde_json::to_vec(&d.payload).unwrap_or_default();
    let timestamp = Utc::now().timestamp();
    let sent = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            reqwest::header::USER_AGENT,
            concat!("planexec/", env!("CARGO_PKG_VERSION")),
        )
        .header(
            SIGNATURE_HEADER,
            super::sign::header(&d.secret, timestamp, &body),
        )
        .header(EVENT_HEADER, &d.event)
        .header(DELIVERY_HEADER, d.id.to_string())
        .body(body)
        .send()
        .await;
    let failure = match sent {
        Ok(response) if response.status().is_success() => {
            let status = response.status().as_u16();
            crate::metrics::webhook_delivery(&d.event, "delivered");
            tracing::info!(delivery = %d.id, event = d.event, url = d.url, status, "webhook delivered");
            if let Err(e) = webhooks::delivered(pool, d.id, status).await {
                tracing::warn!(delivery = %d.id, error = %e, "a delivery was made but not recorded; it will be made again");
            }
            return;
        }
        Ok(response) => (
            Some(response.status().as_u16()),
            format!("the receiver answered {}", response.status()),
        ),
        Err(e) => (None, error_chain(&e)),
    };
    let failures = u32::try_from(d.attempts).unwrap_or(0) + 1;
    let (status, error) = failure;
    let retry_at = (failures < options.max_attempts).then(|| {
        Utc::now() + chrono::Duration::from_std(options.backoff(failures)).unwrap_or_default()
    });
    match retry_at {
        Some(at) => {
            crate::metrics::webhook_delivery(&d.event, "retried");
            tracing::warn!(delivery = %d.id, event = d.event, url = d.url, attempt = failures, error, next_attempt_at = %at, "webhook not delivered; trying again later");
        }
        None => {
            crate::metrics::webhook_delivery(&d.event, "failed");
            tracing::error!(delivery = %d.id, event = d.event, url = d.url, attempts = failures, error, "webhook not delivered; giving up");
        }
    }
    if let Err(e) = webhooks::attempt_failed(pool, d.id, status, &error, retry_at).await {
        tracing::warn!(delivery = %d.id, error = %e, "a failed delivery was not recorded; it will be tried again");
    }
}

/// An error with its causes, outermost first.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_doubles_from_the_first_retry_up_to_the_maximum() {
        let options = WebhookOptions {
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(5),
            ..WebhookOptions::default()
        };
        let waits: Vec<u64> = (1..=5).map(|n| options.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
    }
}
