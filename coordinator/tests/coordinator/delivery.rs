//! Events as they really arrive: twice, late, from the wrong agent, or not events at all.

use std::time::Duration;

use planexec_schemas::event::AgentEventBody;
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::{Id, new_id};

use super::support::Stack;

/// Waits until the history holds `n` rows of `kind`.
async fn until_history(
    stack: &Stack,
    execution: Id,
    kind: &str,
    n: usize,
) -> Vec<(String, Option<Id>, Option<i32>, String, Option<String>)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let rows: Vec<_> = stack
            .history(execution)
            .await
            .into_iter()
            .filter(|h| h.0 == kind)
            .collect();
        if rows.len() >= n {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "history never held {n} {kind} rows: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_duplicated_event_is_applied_once() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0, 0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    let first = agent.task().await;
    let complete = agent.event(
        &first,
        AgentEventBody::TaskComplete {
            output: serde_json::json!({"sent": 1}),
        },
    );
    let payload = serde_json::to_vec(&complete).expect("serialises");
    let subject = stack.ns.events_subject(agent.id, execution.id);
    // The same event three times: twice under one JetStream message id (the server drops the
    // copy), once under another (as after the duplicate window: the database drops it).
    agent.publish_raw(&subject, "copy-a", payload.clone()).await;
    agent.publish_raw(&subject, "copy-a", payload.clone()).await;
    agent.publish_raw(&subject, "copy-b", payload).await;
    let second = agent.task().await;
    assert_eq!(second.wbs, "1.2");
    agent.start_and_complete(&second).await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;

    let completes = until_history(&stack, execution.id, "task_complete", 2).await;
    let of_first: Vec<_> = completes
        .iter()
        .filter(|h| h.1 == Some(first.task_id))
        .collect();
    assert_eq!(
        of_first.len(),
        1,
        "the duplicate was recorded: {completes:?}"
    );
    assert_eq!(of_first[0].3, "applied");
    assert!(
        agent.next(Duration::from_millis(300)).await.is_none(),
        "a duplicate caused a dispatch"
    );
}

#[tokio::test]
async fn events_of_a_superseded_attempt_or_from_another_agent_are_recorded_as_rejected() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0], &[]).await;
    let agent = stack.agent("larry").await;
    let intruder = stack.agent("mallory").await;
    let execution = stack.execute(plan, agent.id).await;
    let first = agent.task().await;
    agent
        .publish(&agent.event(
            &first,
            AgentEventBody::TaskFailed {
                error: "busy".into(),
                retryable: true,
                retry_after_seconds: None,
            },
        ))
        .await;
    let second = agent.task().await;
    assert_eq!(second.attempt, 2);

    agent
        .publish(&agent.event(
            &first,
            AgentEventBody::TaskComplete {
                output: serde_json::Value::Null,
            },
        ))
        .await;
    intruder
        .publish(&agent.event(
            &second,
            AgentEventBody::TaskComplete {
                output: serde_json::Value::Null,
            },
        ))
        .await;
    let completes = until_history(&stack, execution.id, "task_complete", 2).await;
    let reasons: Vec<&str> = completes
        .iter()
        .map(|h| h.4.as_deref().unwrap_or(""))
        .collect();
    assert!(completes.iter().all(|h| h.3 == "rejected"), "{completes:?}");
    assert!(reasons[0].starts_with("stale_attempt"), "{reasons:?}");
    assert!(reasons[1].starts_with("wrong_agent"), "{reasons:?}");
    assert_eq!(
        stack.execution(execution.id).await.status,
        ExecutionStatus::Running,
        "a rejected event changed the execution"
    );

    agent.start_and_complete(&second).await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
}

#[tokio::test]
async fn malformed_messages_are_dead_lettered_while_the_stream_keeps_flowing() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0, 0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    let first = agent.task().await;
    let subject = stack.ns.events_subject(agent.id, execution.id);

    agent
        .publish_raw(&subject, "bad-1", b"{not json".to_vec())
        .await;
    agent
        .publish_raw(
            &subject,
            "bad-2",
            br#"{"event_type":"task_complete"}"#.to_vec(),
        )
        .await;
    let mut wrong_execution = agent.event(&first, AgentEventBody::TaskStarted {});
    wrong_execution.execution_id = new_id();
    agent
        .publish_raw(
            &subject,
            "bad-3",
            serde_json::to_vec(&wrong_execution).expect("json"),
        )
        .await;
    let mut unknown = agent.event(&first, AgentEventBody::TaskStarted {});
    unknown.execution_id = new_id();
    agent.publish_as(agent.id, &unknown).await;
    // Text PostgreSQL cannot store (a NUL) must not fail the whole batch again and again.
    let mut unstorable = agent.event(
        &first,
        AgentEventBody::Log {
            level: planexec_schemas::event::LogLevel::Info,
            message: "before\u{0}after".into(),
        },
    );
    unstorable.event_id = new_id();
    agent.publish(&unstorable).await;
    let mut out_of_range = agent.event(
        &first,
        AgentEventBody::TaskProgress {
            progress: 250.0,
            message: None,
        },
    );
    out_of_range.event_id = new_id();
    agent.publish(&out_of_range).await;

    // The stream keeps flowing: the good events behind the bad ones are applied.
    agent.start_and_complete(&first).await;
    let second = agent.task().await;
    agent.start_and_complete(&second).await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;

    let letters = planexec_store::events::dead_letters(&stack.pool, 10)
        .await
        .expect("dead letters");
    // The event of an unknown execution is not among them: it is retried for about 30 s first
    // (its execution may yet be committed by another replica).
    assert_eq!(letters.len(), 5, "{letters:?}");
    assert!(
        letters
            .iter()
            .all(|l| !l.subject.ends_with(&unknown.execution_id.to_string())),
        "an unknown execution's event was dead-lettered at once: {letters:?}"
    );
    assert!(
        letters
            .iter()
            .any(|l| l.raw == b"{not json" && l.error.contains("not an agent event"))
    );
    assert!(
        letters
            .iter()
            .any(|l| l.error.contains("the subject names execution"))
    );
    assert!(letters.iter().any(|l| l.error.contains("progress")));
    assert!(letters.iter().all(|l| l.stream_sequence.is_some()));
}

#[tokio::test]
async fn an_event_held_longer_than_the_ack_wait_is_not_handed_out_twice() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0, 0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    let first = agent.task().await;
    // Another transaction holds the execution: the coordinator's batch waits for it, well past
    // the events consumer's ack wait.
    let mut holder = stack.pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM executions WHERE id = $1 FOR UPDATE")
        .bind(execution.id)
        .execute(&mut *holder)
        .await
        .expect("lock");
    let complete = agent.event(
        &first,
        AgentEventBody::TaskComplete {
            output: serde_json::json!({"sent": 1}),
        },
    );
    agent.publish(&complete).await;
    let consumer = stack.coordinator_consumer().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while consumer_info(&consumer).await.num_ack_pending == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the events never reached the coordinator"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The time that passes is the point of the test: three ack waits.
    tokio::time::sleep(stack.options.ack_wait * 3).await;
    holder.commit().await.expect("release");

    let second = agent.task().await;
    assert_eq!(second.wbs, "1.2");
    let info = consumer_info(&consumer).await;
    assert_eq!(
        info.num_redelivered, 0,
        "events in a waiting transaction were handed out again: {info:?}"
    );
    let completes = until_history(&stack, execution.id, "task_complete", 1).await;
    assert_eq!(completes.len(), 1, "{completes:?}");
    assert_eq!(completes[0].3, "applied");
}

async fn consumer_info(
    consumer: &async_nats::jetstream::consumer::PullConsumer,
) -> async_nats::jetstream::consumer::Info {
    let mut consumer = consumer.clone();
    consumer.info().await.expect("consumer info").clone()
}
