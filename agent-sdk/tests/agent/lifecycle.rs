//! Cancels and graceful shutdown, against the real coordinator.

use std::time::Duration;

use planexec_schemas::event::EventType;
use planexec_schemas::execution::ExecutionStatus;
use tokio::sync::mpsc;

use super::support::{Stack, emailer, task_events};

/// Tells the test when it is dropped: the handler's future is gone.
struct DropSignal(Option<mpsc::UnboundedSender<&'static str>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send("dropped");
        }
    }
}

#[tokio::test]
async fn cancelling_the_execution_stops_the_running_handler_and_nothing_more_is_reported() {
    let stack = Stack::new().await;
    let plan = stack.plan(&["send_email", "send_email"]).await;
    let credentials = stack.register("mailer", &["send_email"]).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let agent = stack.run(
        stack.options(&credentials),
        emailer(move |_task, ctx| {
            let tx = tx.clone();
            async move {
                let _guard = DropSignal(Some(tx.clone()));
                ctx.progress(10.0, "dialling").await;
                let _ = tx.send("started");
                ctx.cancelled().await;
                let _ = tx.send("saw the cancel");
                // Whatever a cancelled handler returns is not reported.
                Ok(serde_json::json!({ "too": "late" }))
            }
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 1).await;
    assert_eq!(rx.recv().await, Some("started"));
    stack
        .until(execution.id, "running its first task", |e| {
            e.current_task.is_some()
        })
        .await;

    stack.cancel(execution.id).await;
    for expected in ["saw the cancel", "dropped"] {
        let next = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the handler hears of the cancel within 10 s");
        assert_eq!(next, Some(expected));
    }

    let report = agent.stop().await;
    assert_eq!((report.tasks_cancelled, report.tasks_completed), (1, 0));
    let history = stack
        .until_agent_events(execution.id, report.events_delivered)
        .await;
    let first = history
        .iter()
        .find(|e| e.event_type == EventType::TaskStarted)
        .and_then(|e| e.task_id)
        .expect("the first task started");
    let kinds: Vec<String> = task_events(&history, first)
        .into_iter()
        .map(|(kind, _, _)| kind)
        .collect();
    assert_eq!(kinds, ["task_started", "task_progress"]);
    assert_eq!(
        stack.execution(execution.id).await.status,
        ExecutionStatus::Cancelled
    );
}

#[tokio::test]
async fn graceful_shutdown_hands_an_unfinished_task_back_and_it_is_dispatched_again() {
    let stack = Stack::new().await;
    let plan = stack.plan(&["send_email"]).await;
    let credentials = stack.register("mailer", &["send_email"]).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut options = stack.options(&credentials);
    options.shutdown_grace = Duration::from_millis(300);
    let stubborn = stack.run(
        options,
        emailer(move |task, _ctx| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(task.attempt);
                // An interview that outlasts the shutdown grace.
                std::future::pending::<()>().await;
                Ok(serde_json::Value::Null)
            }
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 1).await;
    assert_eq!(rx.recv().await, Some(1));
    stack
        .until(execution.id, "running", |e| e.current_task.is_some())
        .await;
    let report = stubborn.stop().await;
    assert_eq!((report.tasks_released, report.events_lost), (1, 0));

    let second = stack.run(
        stack.options(&credentials),
        emailer(|task, _ctx| async move { Ok(serde_json::json!({ "attempt": task.attempt })) }),
    );
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    second.stop().await;
    let history = stack.until_agent_events(execution.id, 4).await;
    let task = history
        .iter()
        .find_map(|e| e.task_id)
        .expect("events name the task");
    assert_eq!(
        task_events(&history, task),
        [
            ("task_started".into(), 1, "applied".into()),
            ("task_released".into(), 1, "applied".into()),
            ("task_started".into(), 2, "applied".into()),
            ("task_complete".into(), 2, "applied".into()),
        ]
    );
    let failures = planexec_store::executions::read::tasks(&stack.pool, execution.id)
        .await
        .expect("tasks")[0]
        .failures;
    assert_eq!(failures, 0, "a released task is not a failed one");
}

#[tokio::test]
async fn graceful_shutdown_lets_a_task_that_finishes_within_the_grace_complete() {
    let stack = Stack::new().await;
    let plan = stack.plan(&["send_email"]).await;
    let credentials = stack.register("mailer", &["send_email"]).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let agent = stack.run(
        stack.options(&credentials),
        emailer(move |_task, ctx| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(());
                // Finish the current message, then stop: the agent is going away.
                ctx.shutting_down().cancelled().await;
                Ok(serde_json::json!({ "sent": true }))
            }
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 1).await;
    assert_eq!(rx.recv().await, Some(()));
    stack
        .until(execution.id, "running", |e| e.current_task.is_some())
        .await;
    let report = agent.stop().await;
    assert_eq!((report.tasks_completed, report.tasks_released), (1, 0));
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
}
