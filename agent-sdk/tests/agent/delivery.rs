//! Delivery when NATS goes away, and agents the coordinator does not know.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use planexec_agent_sdk::{Agent, AgentEvent, Credentials, Error, Observer};
use planexec_schemas::execution::ExecutionStatus;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::proxy::Proxy;
use super::support::{Stack, emailer, task_events};

/// Reports every failed delivery attempt to the test.
struct Failures(mpsc::UnboundedSender<String>);

impl Observer for Failures {
    fn delivery_failed(&self, event: &AgentEvent, error: &Error) {
        let _ = self
            .0
            .send(format!("{}: {error}", event.body.event_type().as_str()));
    }
}

#[tokio::test]
async fn events_buffered_while_nats_is_unreachable_are_delivered_once_after_reconnecting() {
    let stack = Stack::new().await;
    let proxy = Proxy::start(&stack.env.nats_url).await;
    let plan = stack.plan(&["send_email"]).await;
    let credentials = stack.register("mailer", &["send_email"]).await;
    let (failed_tx, mut failed) = mpsc::unbounded_channel();
    let mut options = stack.options_via(&credentials, &proxy.url);
    options.observer = Arc::new(Failures(failed_tx));
    let (working_tx, working) = oneshot::channel();
    let (go_tx, go) = oneshot::channel::<()>();
    let handoff = Arc::new(Mutex::new(Some((working_tx, go))));
    let agent = stack.run(
        options,
        emailer(move |_task, ctx| {
            let handoff = handoff.lock().ok().and_then(|mut h| h.take());
            async move {
                ctx.progress(20.0, "drafting").await;
                if let Some((working, go)) = handoff {
                    let _ = working.send(());
                    let _ = go.await;
                }
                ctx.progress(80.0, "written while NATS was away").await;
                Ok(serde_json::json!({ "message_id": "m-1" }))
            }
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 1).await;
    working.await.expect("the handler starts");
    stack.until_agent_events(execution.id, 2).await;

    proxy.cut();
    go_tx.send(()).expect("the handler waits");
    let failure = tokio::time::timeout(Duration::from_secs(20), failed.recv())
        .await
        .expect("a delivery fails while NATS is unreachable")
        .expect("the observer is alive");
    assert!(failure.starts_with("task_progress"), "{failure}");
    assert_eq!(
        stack.execution(execution.id).await.status,
        ExecutionStatus::Running,
        "nothing got through the cut"
    );

    proxy.restore();
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    let report = agent.stop().await;
    assert_eq!((report.events_delivered, report.events_lost), (4, 0));
    assert!(report.delivery_failures >= 1, "{report:?}");

    let history = stack.until_agent_events(execution.id, 4).await;
    let task = history.iter().find_map(|e| e.task_id).expect("a task");
    let kinds: Vec<(String, String)> = task_events(&history, task)
        .into_iter()
        .map(|(kind, _, disposition)| (kind, disposition))
        .collect();
    assert_eq!(
        kinds,
        [
            ("task_started".into(), "applied".into()),
            ("task_progress".into(), "applied".into()),
            ("task_progress".into(), "applied".into()),
            ("task_complete".into(), "applied".into()),
        ]
    );
    // Re-sent copies kept their message id, so the stream stored each event once.
    let js = async_nats::jetstream::new(stack.nats.clone());
    let mut stream = js
        .get_stream(stack.ns.events_stream())
        .await
        .expect("events stream");
    let stored = stream.info().await.expect("stream info").state.messages;
    assert_eq!(stored, 4, "the stream holds a copy of a re-sent event");
}

#[tokio::test]
async fn an_agent_the_coordinator_does_not_know_stops_with_an_error_that_says_so() {
    let stack = Stack::new().await;
    let ghost = Credentials {
        agent_id: planexec_schemas::new_id(),
        token: "never-issued".into(),
    };
    let agent = Agent::new(stack.options(&ghost)).expect("valid options");
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        agent.run(
            emailer(|_task, _ctx| async { Ok(serde_json::Value::Null) }),
            CancellationToken::new(),
        ),
    )
    .await
    .expect("the agent gives up at once");
    match result {
        Err(Error::UnknownAgent { agent_id, .. }) => assert_eq!(agent_id, ghost.agent_id),
        other => panic!("expected UnknownAgent, got {other:?}"),
    }
}

#[tokio::test]
async fn an_assignment_delivered_again_after_it_ran_is_not_run_twice() {
    let stack = Stack::new().await;
    let plan = stack.plan(&["send_email"]).await;
    let credentials = stack.register("mailer", &["send_email"]).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let agent = stack.run(
        stack.options(&credentials),
        emailer(move |task, _ctx| {
            let record = record.clone();
            async move {
                record.lock().expect("the record").push(task);
                Ok(serde_json::json!({ "sent": true }))
            }
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 1).await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    let task = seen.lock().expect("the record")[0].clone();

    // The same attempt once more, as JetStream redelivers a task whose acknowledgement was lost
    // with a connection (a new message id: a copy of the same one would be deduplicated).
    let js = async_nats::jetstream::new(stack.nats.clone());
    let message = planexec_schemas::task::AgentMessage::Task(task.clone());
    let ack = js
        .publish(
            stack.ns.tasks_subject(credentials.agent_id),
            serde_json::to_vec(&message).expect("json").into(),
        )
        .await
        .expect("published")
        .await
        .expect("stored");
    let consumer_name = format!("agent-{}", credentials.agent_id);
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = js
        .get_stream(stack.ns.tasks_stream())
        .await
        .expect("tasks stream")
        .get_consumer(&consumer_name)
        .await
        .expect("the agent's consumer");
    // Until the agent has taken and acknowledged the copy.
    loop {
        let info = consumer.info().await.expect("consumer info");
        if info.ack_floor.stream_sequence >= ack.sequence {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = agent.stop().await;
    assert_eq!(seen.lock().expect("the record").len(), 1, "run once");
    assert_eq!(report.tasks_completed, 1);
}
