//! Plans run by SDK agents over NATS: completion, retries, giving up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use planexec_agent_sdk::TaskError;
use planexec_schemas::event::EventType;
use planexec_schemas::execution::{BlockedReason, ExecutionStatus};

use super::support::{Script, Stack, emailer, task_events};

#[tokio::test]
async fn an_sdk_agent_runs_a_plan_of_several_leaves_to_completed() {
    let stack = Stack::new().await;
    let plan = stack.plan(&["send_email"; 4]).await;
    let credentials = stack.register("mailer", &["send_email"]).await;
    let agent = stack.run(
        stack.options(&credentials),
        emailer(|task, ctx| async move {
            ctx.progress(50.0, "message written").await;
            Ok(serde_json::json!({ "sent": task.wbs }))
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 2).await;
    let done = stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    assert_eq!((done.leaves_done, done.progress), (4, 100.0));

    let report = agent.stop().await;
    assert_eq!(report.tasks_completed, 4);
    assert_eq!((report.events_delivered, report.events_lost), (12, 0));
    let history = stack.until_agent_events(execution.id, 12).await;
    let tasks = planexec_store::executions::read::tasks(&stack.pool, execution.id)
        .await
        .expect("tasks");
    for task in tasks.iter().filter(|t| t.is_leaf) {
        let events = task_events(&history, task.id);
        let expected: Vec<(String, u32, String)> =
            ["task_started", "task_progress", "task_complete"]
                .iter()
                .map(|t| ((*t).to_owned(), 1, "applied".to_owned()))
                .collect();
        assert_eq!(events, expected, "leaf {}", task.wbs);
        let complete = history
            .iter()
            .find(|e| e.task_id == Some(task.id) && e.event_type == EventType::TaskComplete)
            .expect("a task_complete");
        assert_eq!(complete.output["output"]["sent"], task.wbs.as_str());
    }
}

#[tokio::test]
async fn a_retryable_error_is_retried_as_a_new_attempt_which_completes() {
    let stack = Stack::new().await;
    let plan = stack.plan(&["send_email"]).await;
    let credentials = stack.register("mailer", &["send_email"]).await;
    let agent = stack.run(
        stack.options(&credentials),
        emailer(|task, _ctx| async move {
            if task.attempt == 1 {
                return Err(TaskError::retry_after(
                    "the mail server said 451, try later",
                    std::time::Duration::from_millis(300),
                ));
            }
            Ok(serde_json::json!({ "attempt": task.attempt }))
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 1).await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    let report = agent.stop().await;
    assert_eq!((report.tasks_failed, report.tasks_completed), (1, 1));

    let history = stack.until_agent_events(execution.id, 4).await;
    let failed = history
        .iter()
        .find(|e| e.event_type == EventType::TaskFailed)
        .expect("the failure is recorded");
    assert_eq!(failed.attempt, Some(1));
    assert_eq!(failed.output["retryable"], true);
    assert_eq!(failed.output["retry_after_seconds"], 0.3);
    let complete = history
        .iter()
        .find(|e| e.event_type == EventType::TaskComplete)
        .expect("the second attempt completes");
    assert_eq!(
        (complete.attempt, complete.disposition.as_str()),
        (Some(2), "applied")
    );
}

#[tokio::test]
async fn a_give_up_error_blocks_the_execution_without_another_attempt() {
    let stack = Stack::new().await;
    let plan = stack.plan(&["send_email"]).await;
    let credentials = stack.register("mailer", &["send_email"]).await;
    let calls = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&calls);
    let agent = stack.run(
        stack.options(&credentials),
        emailer(move |_task, _ctx| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Err(TaskError::give_up("the address does not exist")) }
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 1).await;
    let blocked = stack
        .until_status(execution.id, ExecutionStatus::Blocked)
        .await;
    assert_eq!(blocked.blocked_reason, Some(BlockedReason::TaskFailed));
    let report = agent.stop().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "no second attempt");
    assert_eq!(report.tasks_failed, 1);
    let history = stack.until_agent_events(execution.id, 2).await;
    let failed = history
        .iter()
        .find(|e| e.event_type == EventType::TaskFailed)
        .expect("the failure is recorded");
    assert_eq!(failed.output["retryable"], false);
    assert_eq!(failed.output["error"], "the address does not exist");
}

#[tokio::test]
async fn a_task_of_a_capability_the_handler_does_not_serve_is_given_up() {
    let stack = Stack::new().await;
    let plan = stack.plan(&["send_email"]).await;
    let credentials = stack.register("confused", &["send_email"]).await;
    let agent = stack.run(
        stack.options(&credentials),
        Script {
            capabilities: vec!["make_phone_call".into()],
            run: |_task, _ctx| async { Ok(serde_json::Value::Null) },
        },
    );
    let execution = stack.execute(plan, credentials.agent_id, 1).await;
    let blocked = stack
        .until_status(execution.id, ExecutionStatus::Blocked)
        .await;
    assert_eq!(blocked.blocked_reason, Some(BlockedReason::TaskFailed));
    agent.stop().await;
    let history = stack.until_agent_events(execution.id, 1).await;
    let failed = history
        .iter()
        .find(|e| e.event_type == EventType::TaskFailed)
        .expect("the failure is recorded");
    let error = failed.output["error"].as_str().unwrap_or_default();
    assert!(error.contains("send_email"), "{error}");
}

#[tokio::test]
async fn a_panicking_handler_fails_the_attempt_and_the_agent_carries_on() {
    let stack = Stack::new().await;
    let plan = stack.plan(&["send_email"]).await;
    let credentials = stack.register("fragile", &["send_email"]).await;
    let agent = stack.run(
        stack.options(&credentials),
        emailer(|task, _ctx| async move {
            assert!(task.attempt > 1, "the first attempt trips over a bug");
            Ok(serde_json::Value::Null)
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 1).await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    let report = agent.stop().await;
    assert_eq!((report.tasks_failed, report.tasks_completed), (1, 1));
    let history = stack.until_agent_events(execution.id, 4).await;
    let failed = history
        .iter()
        .find(|e| e.event_type == EventType::TaskFailed)
        .expect("the panic is reported as a failure");
    assert_eq!(failed.output["retryable"], true);
    assert!(
        failed.output["error"]
            .as_str()
            .is_some_and(|e| e.contains("panicked"))
    );
}
