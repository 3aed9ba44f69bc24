//! Several coordinators, and a coordinator that dies at the worst moment.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use planexec_coordinator::engine::{Engine, Item, LockMode, Work};
use planexec_schemas::event::AgentEvent;
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::task::AgentMessage;

use super::support::{FakeAgent, Stack};

/// Completes every task the agent receives until `stop`.
async fn work(agent: FakeAgent, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        if let Some(AgentMessage::Task(task)) = agent.next(Duration::from_millis(200)).await {
            agent.start_and_complete(&task).await;
        }
    }
}

#[tokio::test]
async fn two_coordinators_complete_50_executions_with_no_task_dispatched_twice_and_none_lost() {
    let mut stack = Stack::new().await;
    stack.start_replica().await;
    let plan = stack.plan(&[2, 0, 1], &[]).await;
    let mut agents = Vec::new();
    for n in 0..5 {
        agents.push(stack.agent(&format!("worker-{n}")).await);
    }
    let mut executions = Vec::new();
    for n in 0..50 {
        executions.push(stack.execute(plan, agents[n % agents.len()].id).await.id);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = agents
        .into_iter()
        .map(|a| tokio::spawn(work(a, stop.clone())))
        .collect();
    for id in &executions {
        stack.until_status(*id, ExecutionStatus::Completed).await;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("worker");
    }

    let (dispatches, leaves, completes, max_attempt): (i64, i64, i64, i32) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM execution_events WHERE event_type = 'task_dispatched'),
                (SELECT count(*) FROM execution_subtasks) + (SELECT count(*) FROM execution_tasks WHERE is_leaf),
                (SELECT count(*) FROM execution_events WHERE event_type = 'task_complete' AND disposition = 'applied'),
                (SELECT max(attempt) FROM (SELECT attempt FROM execution_subtasks UNION ALL
                                           SELECT attempt FROM execution_tasks WHERE is_leaf) a)",
    )
    .fetch_one(&stack.pool)
    .await
    .expect("counts");
    assert_eq!(leaves, 200);
    assert_eq!(dispatches, leaves, "a task was dispatched twice");
    assert_eq!(completes, leaves, "a completion was lost or applied twice");
    assert_eq!(max_attempt, 1, "a task needed a second attempt");
}

#[tokio::test]
async fn a_coordinator_killed_between_commit_and_ack_loses_nothing_and_applies_nothing_twice() {
    let mut stack = Stack::new().await;
    let plan = stack.plan(&[0, 0, 0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    let first = agent.task().await;
    stack.stop_replicas().await;

    agent.start_and_complete(&first).await;
    // The doomed coordinator: takes the two events, commits their effect, dies before acking.
    let doomed = Engine::new(
        stack.env.pool().await,
        stack.env.nats().await,
        stack.options.clone(),
    );
    let consumer =
        planexec_coordinator::streams::coordinator_consumer(doomed.jetstream(), doomed.options())
            .await
            .expect("consumer");
    let mut batch = consumer
        .batch()
        .max_messages(2)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("fetch");
    let mut items = Vec::new();
    while let Some(message) = batch.next().await {
        let message = message.expect("message");
        let event: AgentEvent = serde_json::from_slice(&message.payload).expect("event");
        items.push(Item {
            execution_id: event.execution_id,
            work: Work::Agent {
                trace: Default::default(),
                sender: agent.id,
                event,
            },
        });
        // No ack: the process "dies" here with the messages still pending.
    }
    assert_eq!(items.len(), 2);
    doomed
        .run(&items, LockMode::Wait)
        .await
        .expect("the doomed batch commits");
    drop(doomed);
    let second = agent.task().await;
    assert_eq!((second.wbs.as_str(), second.attempt), ("1.2", 1));

    // A fresh coordinator gets the unacknowledged events again after the ack wait.
    stack.start_replica().await;
    agent.start_and_complete(&second).await;
    let third = agent.task().await;
    assert_eq!(third.wbs, "1.3");
    agent.start_and_complete(&third).await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    // Give the redelivery (ack wait 2 s) time to come and be recognised.
    let redelivered = async {
        loop {
            let info = consumer
                .clone()
                .info()
                .await
                .map(|i| (i.num_ack_pending, i.num_pending))
                .expect("consumer info");
            if info == (0, 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), redelivered)
        .await
        .expect("every event was finally acknowledged");

    let history = stack.history(execution.id).await;
    for (kind, per_leaf) in [
        ("task_dispatched", 1),
        ("task_started", 1),
        ("task_complete", 1),
    ] {
        for leaf in [first.task_id, second.task_id, third.task_id] {
            let n = history
                .iter()
                .filter(|h| h.0 == kind && h.1 == Some(leaf))
                .count();
            assert_eq!(n, per_leaf, "{kind} of {leaf} recorded {n} times");
        }
    }
    assert!(
        agent.next(Duration::from_millis(300)).await.is_none(),
        "a redelivery dispatched a task again"
    );
}
