//! Webhook notifications: written with the change they announce, signed, and retried from the
//! durable outbox after the receiver fails, across a coordinator restart.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use planexec_coordinator::notify::sign;
use planexec_schemas::event::AgentEventBody;
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::webhook::WebhookEvent;
use planexec_schemas::{Id, new_id};

use super::support::Stack;

/// What a receiver took: each request's headers and body.
type Taken = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A receiver that answers 500 while `failing`, then 200, and keeps what it took.
#[derive(Clone, Default)]
struct Receiver {
    failing: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
    taken: Taken,
}

impl Receiver {
    async fn start(failing: bool) -> (Self, String) {
        let receiver = Self::default();
        receiver.failing.store(failing, Ordering::SeqCst);
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    if state.failing.load(Ordering::SeqCst) {
                        state.refused.fetch_add(1, Ordering::SeqCst);
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    state
                        .taken
                        .lock()
                        .expect("lock")
                        .push((headers, body.to_vec()));
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }
}

/// Subscribes `url` to `events`; returns the subscription's id and secret.
async fn subscribe(stack: &Stack, url: &str, events: &[WebhookEvent]) -> (Id, String) {
    let secret = format!("whsec_test_{}", new_id().simple());
    let hook = planexec_store::webhooks::insert(&stack.pool, new_id(), url, events, &secret)
        .await
        .expect("subscription stored");
    (hook.id, secret)
}

/// `(status, attempts)` of the deliveries of `webhook`, oldest first.
async fn deliveries(stack: &Stack, webhook: Id) -> Vec<(String, i32)> {
    sqlx::query_as(
        "SELECT status, attempts FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at, id",
    )
    .bind(webhook)
    .fetch_all(&stack.pool)
    .await
    .expect("deliveries")
}

/// Waits (polling the outbox) until `check` holds for the deliveries of `webhook`.
async fn until(stack: &Stack, webhook: Id, what: &str, check: impl Fn(&[(String, i32)]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows = deliveries(stack, webhook).await;
        if check(&rows) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries never {what}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fast_webhooks() -> Stack {
    let inner = planexec_test_stack::Stack::with_options(|o| {
        o.webhooks.poll_interval = Duration::from_millis(50);
        o.webhooks.first_retry = Duration::from_millis(100);
        o.webhooks.max_retry = Duration::from_millis(400);
    })
    .await;
    Stack::wrap(inner)
}

/// Checks a delivery's signature as a receiver would.
fn verify(headers: &HeaderMap, body: &[u8], secret: &str) {
    let header = headers["x-planexec-signature"].to_str().expect("text");
    let t: i64 = header
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .expect("the signature carries its timestamp");
    assert_eq!(
        header,
        sign::header(secret, t, body),
        "the signature verifies"
    );
    assert!(
        (chrono::Utc::now().timestamp() - t).abs() < 60,
        "a fresh timestamp"
    );
}

#[tokio::test]
async fn a_completed_execution_is_notified_again_after_the_receiver_failed_across_a_restart() {
    let mut stack = fast_webhooks().await;
    let (receiver, url) = Receiver::start(true).await;
    let (webhook, secret) = subscribe(&stack, &url, &[WebhookEvent::ExecutionCompleted]).await;
    let plan = stack.plan(&[0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    let task = agent.task().await;
    agent
        .publish(&agent.event(
            &task,
            AgentEventBody::TaskComplete {
                output: serde_json::json!({}),
            },
        ))
        .await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;

    // The receiver refuses: the delivery stays pending and is tried again.
    until(&stack, webhook, "retried", |rows| {
        rows.len() == 1 && rows[0].0 == "pending" && rows[0].1 >= 2
    })
    .await;
    assert!(receiver.refused.load(Ordering::SeqCst) >= 2);

    // A restart loses nothing: the next replica delivers once the receiver is back.
    stack.stop_replicas().await;
    receiver.failing.store(false, Ordering::SeqCst);
    stack.start_replica().await;
    until(&stack, webhook, "delivered", |rows| {
        rows.len() == 1 && rows[0].0 == "delivered"
    })
    .await;

    let taken = receiver.taken.lock().expect("lock").clone();
    assert_eq!(taken.len(), 1, "delivered once");
    let (headers, body) = &taken[0];
    verify(headers, body, &secret);
    assert_eq!(headers["x-planexec-event"], "execution.completed");
    let payload: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    assert_eq!(payload["event"], "execution.completed");
    assert_eq!(
        payload["data"]["execution_id"],
        serde_json::json!(execution.id)
    );
    assert_eq!(payload["data"]["status"], "COMPLETED");
    assert!(
        payload["text"]
            .as_str()
            .is_some_and(|t| t.contains("COMPLETED"))
    );
}

#[tokio::test]
async fn a_block_after_the_last_attempt_notifies_the_block_and_the_spent_task_only_to_subscribers()
{
    let stack = fast_webhooks().await;
    let (receiver, url) = Receiver::start(false).await;
    let (webhook, secret) = subscribe(
        &stack,
        &url,
        &[
            WebhookEvent::ExecutionBlocked,
            WebhookEvent::TaskRetriesExhausted,
        ],
    )
    .await;
    let (elsewhere, _) = subscribe(&stack, &url, &[WebhookEvent::ExecutionFailed]).await;
    let plan = stack.plan(&[0], &[]).await;
    let agent = stack.agent("moe").await;
    let execution = stack.execute(plan, agent.id).await;
    for attempt in 1..=3 {
        let task = agent.task().await;
        let failure = AgentEventBody::TaskFailed {
            error: format!("mail server down ({attempt})"),
            retryable: true,
            retry_after_seconds: None,
        };
        agent.publish(&agent.event(&task, failure)).await;
    }
    stack
        .until_status(execution.id, ExecutionStatus::Blocked)
        .await;
    until(&stack, webhook, "delivered", |rows| {
        rows.len() == 2 && rows.iter().all(|r| r.0 == "delivered" && r.1 == 1)
    })
    .await;
    assert!(
        deliveries(&stack, elsewhere).await.is_empty(),
        "not subscribed to a block"
    );

    let taken = receiver.taken.lock().expect("lock").clone();
    let mut events: Vec<String> = taken
        .iter()
        .map(|(headers, body)| {
            verify(headers, body, &secret);
            let payload: serde_json::Value = serde_json::from_slice(body).expect("JSON");
            assert_eq!(
                payload["data"]["execution_id"],
                serde_json::json!(execution.id)
            );
            payload["event"].as_str().expect("event").to_owned()
        })
        .collect();
    events.sort();
    assert_eq!(events, ["execution.blocked", "task.retries_exhausted"]);
    let blocked = taken
        .iter()
        .map(|(_, b)| serde_json::from_slice::<serde_json::Value>(b).expect("JSON"))
        .find(|p| p["event"] == "execution.blocked")
        .expect("the block");
    assert_eq!(blocked["data"]["blocked_reason"], "retries_exhausted");
}
