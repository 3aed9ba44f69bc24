//! What keeps a task from hiding behind RUNNING, and what an agent is told when its event is refused.

use std::time::Duration;

use futures::StreamExt;
use planexec_schemas::command::{CommandError, CreateExecution, RegisterAgent};
use planexec_schemas::event::{AgentEventBody, Heartbeat};
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::new_id;
use planexec_schemas::notice::RejectionNotice;

use super::support::Stack;

#[tokio::test]
async fn a_creation_sent_twice_creates_one_execution_and_answers_both_with_it() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0, 0], &[]).await;
    let agent = stack.agent("larry").await;
    let create = CreateExecution {
        id: Some(new_id()),
        plan_id: plan,
        agent_id: agent.id,
        max_parallel: None,
        routing: None,
    };

    let first = stack.command(&create).await.expect("created");
    let second = stack.command(&create).await.expect("answered again");

    assert_eq!(Some(first.id), create.id);
    assert_eq!(second.id, first.id);
    assert_eq!(
        second.created_at, first.created_at,
        "the same row, not a new one"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM executions")
        .fetch_one(&stack.pool)
        .await
        .expect("count");
    assert_eq!(rows, 1);
    assert_eq!(agent.task().await.wbs, "1.1", "the execution started");
    let created: Vec<_> = stack
        .history(first.id)
        .await
        .into_iter()
        .filter(|e| e.0 == "execution_created")
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");

    let other_plan = stack.plan(&[0], &[]).await;
    let clash = stack
        .command(&CreateExecution {
            plan_id: other_plan,
            ..create
        })
        .await;
    assert!(
        matches!(clash, Err(CommandError::Conflict { .. })),
        "{clash:?}"
    );
}

#[tokio::test]
async fn registering_an_id_twice_is_a_conflict() {
    let stack = Stack::new().await;
    let agent = stack.agent("larry").await;
    let again = stack
        .command(&RegisterAgent {
            id: Some(agent.id),
            name: "larry again".into(),
            role: "script".into(),
            capabilities: vec!["send_email".into()],
            token_hash: "1".repeat(64),
        })
        .await;
    assert!(
        matches!(again, Err(CommandError::Conflict { .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn an_agent_that_says_it_holds_nothing_gets_its_running_task_again_at_once() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    let first = agent.task().await;
    agent
        .publish(&agent.event(&first, AgentEventBody::TaskStarted {}))
        .await;
    stack
        .until(execution.id, "the task to run", |e| {
            e.status == ExecutionStatus::Running
        })
        .await;
    // The agent restarts and has nothing: its first heartbeat says so.
    let beat = Heartbeat {
        agent_id: agent.id,
        timestamp: chrono::Utc::now(),
        in_flight: Some(0),
    };
    stack
        .nats
        .publish(
            stack.ns.heartbeats_subject(agent.id),
            serde_json::to_vec(&beat).expect("serialises").into(),
        )
        .await
        .expect("heartbeat published");
    // The task comes again as the next attempt, long before any timeout.
    let again = agent.task().await;
    assert_eq!(again.task_id, first.task_id);
    assert_eq!(again.attempt, first.attempt + 1);
    let history = stack.history(execution.id).await;
    assert!(
        history
            .iter()
            .any(|h| h.0 == "task_abandoned" && h.1 == Some(first.task_id)),
        "no task_abandoned in the history: {history:?}"
    );
}

#[tokio::test]
async fn a_refused_event_comes_back_to_its_agent_as_a_rejection_notice() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    let task = agent.task().await;
    let mut notices = stack
        .nats
        .subscribe(stack.ns.notices_subject(agent.id))
        .await
        .expect("subscribe");
    let mut stale = agent.event(&task, AgentEventBody::TaskStarted {});
    stale.attempt = task.attempt + 5;
    agent.publish(&stale).await;
    let notice = tokio::time::timeout(Duration::from_secs(20), notices.next())
        .await
        .expect("a notice within 20 s")
        .expect("the subscription is open");
    let notice: RejectionNotice = serde_json::from_slice(&notice.payload).expect("a notice");
    assert_eq!(notice.event_id, Some(stale.event_id));
    assert_eq!(notice.execution_id, Some(execution.id));
    assert_eq!(notice.code, "unknown_attempt");

    // Not an event at all: still a notice, with what could be read.
    agent
        .publish_raw(
            &stack.ns.events_subject(agent.id, execution.id),
            "garbage-1",
            b"{\"no\": \"event\"}".to_vec(),
        )
        .await;
    let notice = tokio::time::timeout(Duration::from_secs(20), notices.next())
        .await
        .expect("a notice within 20 s")
        .expect("the subscription is open");
    let notice: RejectionNotice = serde_json::from_slice(&notice.payload).expect("a notice");
    assert_eq!(notice.code, "invalid_event");
    assert_eq!(notice.execution_id, Some(execution.id));
}
