//! The outbox against a real JetStream stream: confirmations lost, events refused, servers
//! away. Failures are made by spoiling real deliveries, never by pretending to be a server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream::stream::{self, Stream};
use planexec_harness::TestEnv;
use planexec_schemas::event::AgentEventBody;
use planexec_schemas::new_id;

use super::*;
use crate::events::{TaskKey, event};
use crate::observer::NoObserver;
use crate::transport::nats::NatsLink;

/// Delivers for real, then reports the first `spoiled` windows as failed, as when the
/// confirmations are lost on the way back: the events are stored but the agent cannot know.
struct LoseConfirmations {
    inner: NatsLink,
    spoiled: AtomicUsize,
}

impl Deliver for LoseConfirmations {
    async fn deliver(&self, events: &[AgentEvent]) -> Vec<Delivered> {
        let results = self.inner.deliver(events).await;
        let spoil = self
            .spoiled
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !spoil {
            return results;
        }
        results
            .into_iter()
            .map(|_| Err(Error::nats("waiting for JetStream", "timed out")))
            .collect()
    }
}

/// Tells the test of every failed attempt.
struct Failures(mpsc::UnboundedSender<()>);

impl Observer for Failures {
    fn delivery_failed(&self, _event: &AgentEvent, _error: &Error) {
        let _ = self.0.send(());
    }
}

async fn events_stream(env: &TestEnv, client: &async_nats::Client) -> Stream {
    let js = async_nats::jetstream::new(client.clone());
    js.get_or_create_stream(stream::Config {
        name: env.namespace.events_stream(),
        subjects: vec![env.namespace.events_wildcard()],
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .expect("events stream")
}

/// The events the stream holds, in order.
async fn stored(stream: &Stream) -> Vec<AgentEvent> {
    let count = stream.get_info().await.expect("info").state.messages;
    let mut events = Vec::new();
    for sequence in 1..=count {
        let message = stream.get_raw_message(sequence).await.expect("message");
        events.push(serde_json::from_slice(&message.payload).expect("an event"));
    }
    events
}

fn progress_events(n: usize) -> Vec<AgentEvent> {
    let key = TaskKey {
        execution_id: new_id(),
        task_id: new_id(),
        attempt: 1,
    };
    (0..n)
        .map(|i| {
            event(
                key,
                AgentEventBody::TaskProgress {
                    progress: i as f64,
                    message: None,
                },
            )
        })
        .collect()
}

fn options(window: usize) -> DeliveryOptions {
    DeliveryOptions {
        capacity: 100,
        window,
        backoff: Backoff::new(Duration::from_millis(10), Duration::from_millis(50)),
    }
}

/// Queues `events`, closes the outbox and returns what the loop reports.
async fn deliver_all<D: Deliver>(
    deliver: D,
    window: usize,
    events: &[AgentEvent],
) -> DeliveryReport {
    let (outbox, delivery) = outbox(deliver, options(window), Arc::new(NoObserver), None);
    for event in events {
        assert!(outbox.push(event.clone()).await);
    }
    let closing = CancellationToken::new();
    closing.cancel();
    tokio::time::timeout(
        Duration::from_secs(20),
        delivery.run(closing, CancellationToken::new()),
    )
    .await
    .expect("everything is delivered within 20 s")
}

#[tokio::test]
async fn an_event_whose_confirmation_was_lost_is_sent_again_under_its_id_and_stored_once() {
    let env = TestEnv::start().await;
    let client = env.nats().await;
    let stream = events_stream(&env, &client).await;
    let link = NatsLink::new(
        client,
        env.namespace.clone(),
        new_id(),
        Duration::from_secs(2),
    );
    let spoiled = LoseConfirmations {
        inner: link,
        spoiled: AtomicUsize::new(2),
    };
    let events = progress_events(5);
    let report = deliver_all(spoiled, 3, &events).await;
    assert_eq!(
        report,
        DeliveryReport {
            delivered: 5,
            lost: 0,
            failed_attempts: 6,
        }
    );
    let ids: Vec<_> = stored(&stream).await.iter().map(|e| e.event_id).collect();
    let sent: Vec<_> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, sent, "each event once, in order");
}

#[tokio::test]
async fn an_event_refused_for_good_is_dropped_without_holding_up_the_ones_behind_it() {
    let env = TestEnv::start().await;
    let client = env.nats().await;
    let stream = events_stream(&env, &client).await;
    let link = NatsLink::new(
        client,
        env.namespace.clone(),
        new_id(),
        Duration::from_secs(2),
    );
    let mut events = progress_events(3);
    // Bigger than the server's max_payload: no retry can make it fit.
    events[1].body = AgentEventBody::TaskComplete {
        output: serde_json::Value::String("x".repeat(link.max_event_bytes() + 1)),
    };
    let report = deliver_all(link, 8, &events).await;
    assert_eq!((report.delivered, report.lost), (2, 1));
    let ids: Vec<_> = stored(&stream).await.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, [events[0].event_id, events[2].event_id]);
}

#[tokio::test]
async fn events_still_buffered_when_delivery_is_abandoned_are_counted_as_lost() {
    let env = TestEnv::start().await;
    let client = env.nats().await;
    // No stream takes these subjects: every publish fails, as while the server is away.
    let link = NatsLink::new(
        client,
        env.namespace.clone(),
        new_id(),
        Duration::from_millis(200),
    );
    let (failed_tx, mut failed) = mpsc::unbounded_channel();
    let (outbox, delivery) = outbox(link, options(4), Arc::new(Failures(failed_tx)), None);
    for event in progress_events(3) {
        assert!(outbox.push(event).await);
    }
    let (closing, abandon) = (CancellationToken::new(), CancellationToken::new());
    let running = tokio::spawn(delivery.run(closing.clone(), abandon.clone()));
    closing.cancel();
    for _ in 0..6 {
        failed.recv().await.expect("deliveries keep failing");
    }
    abandon.cancel();
    let report = running.await.expect("the loop ends");
    assert_eq!((report.delivered, report.lost), (0, 3));
    assert!(
        report.failed_attempts >= 6,
        "tried again and again: {report:?}"
    );
    assert!(!outbox.push(progress_events(1).remove(0)).await, "closed");
}

#[tokio::test]
async fn an_attempt_counts_as_held_until_its_last_event_is_confirmed() {
    let env = TestEnv::start().await;
    let client = env.nats().await;
    let _stream = events_stream(&env, &client).await;
    let link = NatsLink::new(
        client,
        env.namespace.clone(),
        new_id(),
        Duration::from_secs(2),
    );
    // The first two windows' confirmations are lost, as while a NATS node fails over.
    let spoiled = LoseConfirmations {
        inner: link,
        spoiled: AtomicUsize::new(2),
    };
    let (failed_tx, mut failed) = mpsc::unbounded_channel();
    let (outbox, delivery) = outbox(spoiled, options(4), Arc::new(Failures(failed_tx)), None);
    let mut events = progress_events(2);
    events[1].body = AgentEventBody::TaskComplete {
        output: serde_json::json!({"sent": true}),
    };
    for event in events {
        assert!(outbox.push(event).await);
    }
    assert_eq!(outbox.unconfirmed_endings(), 1, "the completion is queued");
    let closing = CancellationToken::new();
    let running = tokio::spawn(delivery.run(closing.clone(), CancellationToken::new()));
    failed.recv().await.expect("a lost confirmation");
    assert_eq!(
        outbox.unconfirmed_endings(),
        1,
        "held while its confirmation is missing"
    );
    closing.cancel();
    let report = running.await.expect("the loop ends");
    assert_eq!(report.delivered, 2);
    assert_eq!(outbox.unconfirmed_endings(), 0, "confirmed: no longer held");
}
