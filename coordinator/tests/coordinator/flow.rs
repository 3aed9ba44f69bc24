//! Executions running, pausing, cancelling, retrying.

use std::time::Duration;

use planexec_schemas::command::{CommandError, UpdateExecutionStatus};
use planexec_schemas::event::AgentEventBody;
use planexec_schemas::execution::{BlockedReason, ExecutionStatus};
use planexec_schemas::task::AgentMessage;

use super::support::Stack;

#[tokio::test]
async fn a_multi_task_execution_is_dispatched_in_wbs_order_and_completes() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[2, 0, 1], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    let mut order = Vec::new();
    for _ in 0..4 {
        let task = agent.task().await;
        assert_eq!(task.execution_id, execution.id);
        assert_eq!(task.attempt, 1);
        assert_eq!(task.capability, "send_email");
        order.push(task.wbs.clone());
        agent.start_and_complete(&task).await;
    }
    assert_eq!(order, ["1.1.1", "1.1.2", "1.2", "1.3.1"]);
    let done = stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    assert_eq!(
        (done.progress, done.leaves_done, done.leaves_total),
        (100.0, 4, 4)
    );
    assert!(
        agent.next(Duration::from_millis(300)).await.is_none(),
        "nothing is dispatched after the last task"
    );

    let history = stack.history(execution.id).await;
    let count = |kind: &str| {
        history
            .iter()
            .filter(|h| h.0 == kind && h.3 == "applied")
            .count()
    };
    assert_eq!(
        (
            count("task_dispatched"),
            count("task_started"),
            count("task_complete")
        ),
        (4, 4, 4)
    );
    let statuses = history
        .iter()
        .filter(|h| h.0 == "execution_status_changed")
        .count();
    assert_eq!(statuses, 3, "CREATED → QUEUED → RUNNING → COMPLETED");
}

#[tokio::test]
async fn a_task_runs_only_after_the_tasks_it_depends_on() {
    let stack = Stack::new().await;
    // 1.1 waits for 1.3: the topological order is 1.2, 1.3, 1.1.
    let plan = stack.plan(&[0, 0, 0], &[(0, 2)]).await;
    let agent = stack.agent("larry").await;
    stack.execute(plan, agent.id).await;
    let mut order = Vec::new();
    for _ in 0..3 {
        let task = agent.task().await;
        order.push(task.wbs.clone());
        agent.start_and_complete(&task).await;
    }
    assert_eq!(order, ["1.2", "1.3", "1.1"]);
}

#[tokio::test]
async fn pause_stops_dispatch_and_resume_continues() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0, 0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    let first = agent.task().await;

    let paused = stack
        .command(&UpdateExecutionStatus {
            execution_id: execution.id,
            status: ExecutionStatus::Paused,
            reason: None,
        })
        .await
        .expect("pause accepted");
    assert_eq!(paused.status, ExecutionStatus::Paused);
    agent.start_and_complete(&first).await;
    stack
        .until(execution.id, "one leaf done", |e| e.leaves_done == 1)
        .await;
    assert!(
        agent.next(Duration::from_millis(500)).await.is_none(),
        "a paused execution dispatched a task"
    );
    assert_eq!(
        stack.execution(execution.id).await.status,
        ExecutionStatus::Paused
    );

    stack
        .command(&UpdateExecutionStatus {
            execution_id: execution.id,
            status: ExecutionStatus::Running,
            reason: None,
        })
        .await
        .expect("resume accepted");
    let second = agent.task().await;
    assert_eq!(second.wbs, "1.2");
    agent.start_and_complete(&second).await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
}

#[tokio::test]
async fn cancel_cancels_pending_tasks_and_tells_the_agent_to_stop() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0, 0, 0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    let first = agent.task().await;
    agent
        .publish(&agent.event(&first, AgentEventBody::TaskStarted {}))
        .await;
    stack
        .until(execution.id, "running its first task", |e| {
            e.current_task.is_some()
        })
        .await;

    let cancelled = stack
        .command(&UpdateExecutionStatus {
            execution_id: execution.id,
            status: ExecutionStatus::Cancelled,
            reason: Some("the campaign was called off".into()),
        })
        .await
        .expect("cancel accepted");
    assert_eq!(cancelled.status, ExecutionStatus::Cancelled);
    match agent.next(Duration::from_secs(5)).await {
        Some(AgentMessage::Cancel(cancel)) => {
            assert_eq!(
                (cancel.task_id, cancel.attempt),
                (first.task_id, first.attempt)
            );
            assert_eq!(cancel.reason, "the campaign was called off");
        }
        other => panic!("the agent was not told to stop: {other:?}"),
    }
    let tasks = planexec_store::executions::read::tasks(&stack.pool, execution.id)
        .await
        .expect("tasks");
    assert!(
        tasks
            .iter()
            .all(|t| t.status == planexec_schemas::execution::TaskStatus::Cancelled)
    );

    agent
        .publish(&agent.event(
            &first,
            AgentEventBody::TaskComplete {
                output: serde_json::Value::Null,
            },
        ))
        .await;
    let rejected = loop {
        let history = stack.history(execution.id).await;
        if let Some(row) = history.into_iter().find(|h| h.0 == "task_complete") {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(rejected.3, "rejected");
    assert!(
        rejected
            .4
            .as_deref()
            .is_some_and(|r| r.starts_with("execution_finished")),
        "{rejected:?}"
    );

    let again = stack
        .command(&UpdateExecutionStatus {
            execution_id: execution.id,
            status: ExecutionStatus::Running,
            reason: None,
        })
        .await
        .expect_err("a cancelled execution resumed");
    assert_eq!(
        again,
        CommandError::InvalidTransition {
            current: ExecutionStatus::Cancelled,
            requested: ExecutionStatus::Running,
            allowed: vec![]
        }
    );
}

#[tokio::test]
async fn a_failed_task_is_retried_with_back_off_and_then_blocks_with_retries_exhausted() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    for attempt in 1..=3 {
        let task = agent.task().await;
        assert_eq!(task.attempt, attempt, "each retry is a new attempt");
        let failure = AgentEventBody::TaskFailed {
            error: format!("mail server down ({attempt})"),
            retryable: true,
            retry_after_seconds: None,
        };
        agent.publish(&agent.event(&task, failure)).await;
    }
    let blocked = stack
        .until_status(execution.id, ExecutionStatus::Blocked)
        .await;
    assert_eq!(
        blocked.blocked_reason,
        Some(BlockedReason::RetriesExhausted)
    );
    assert!(blocked.blocked_detail.is_some_and(|d| d.contains("1.1")));

    let retries: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as(
            "SELECT \"timestamp\", (output->>'next_attempt_at')::timestamptz FROM execution_events
          WHERE execution_id = $1 AND event_type = 'task_retry_scheduled' ORDER BY seq",
        )
        .bind(execution.id)
        .fetch_all(&stack.pool)
        .await
        .expect("retries");
    let waits: Vec<i64> = retries
        .iter()
        .map(|(at, next)| (*next - *at).num_milliseconds())
        .collect();
    assert_eq!(
        waits,
        [200, 400],
        "exponential back-off from the policy (0.2 s, doubling)"
    );
    let dispatches: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT recorded_at FROM execution_events WHERE execution_id = $1 AND event_type = 'task_dispatched' ORDER BY seq",
    )
    .bind(execution.id)
    .fetch_all(&stack.pool)
    .await
    .expect("dispatches");
    for (retry, dispatch) in retries.iter().zip(&dispatches[1..]) {
        assert!(
            *dispatch >= retry.1,
            "attempt dispatched at {dispatch} before its back-off ended at {}",
            retry.1
        );
    }
    assert!(
        agent.next(Duration::from_millis(500)).await.is_none(),
        "no fourth attempt"
    );
}

#[tokio::test]
async fn operator_commands_name_unknown_executions_and_invalid_transitions() {
    let stack = Stack::new().await;
    let unknown = planexec_schemas::new_id();
    let err = stack
        .command(&UpdateExecutionStatus {
            execution_id: unknown,
            status: ExecutionStatus::Paused,
            reason: None,
        })
        .await
        .expect_err("paused an unknown execution");
    assert_eq!(err, CommandError::not_found("execution", unknown));

    let plan = stack.plan(&[0], &[]).await;
    let agent = stack.agent("larry").await;
    let execution = stack.execute(plan, agent.id).await;
    stack
        .until_status(execution.id, ExecutionStatus::Running)
        .await;
    let err = stack
        .command(&UpdateExecutionStatus {
            execution_id: execution.id,
            status: ExecutionStatus::Running,
            reason: None,
        })
        .await
        .expect_err("resumed a running execution");
    match err {
        CommandError::InvalidTransition {
            current, allowed, ..
        } => {
            assert_eq!(current, ExecutionStatus::Running);
            assert!(
                allowed.contains(&ExecutionStatus::Paused)
                    && allowed.contains(&ExecutionStatus::Cancelled)
            );
        }
        other => panic!("expected an invalid transition, got {other:?}"),
    }
    let err = stack
        .command(&UpdateExecutionStatus {
            execution_id: execution.id,
            status: ExecutionStatus::Completed,
            reason: None,
        })
        .await
        .expect_err("an operator completed an execution");
    assert!(matches!(err, CommandError::Invalid { .. }), "{err:?}");
}

#[tokio::test]
async fn a_burst_of_creations_starts_every_execution_once() {
    let stack = Stack::new().await;
    let plan = stack.plan(&[0, 0], &[]).await;
    let agent = stack.agent("larry").await;
    let created = futures::future::join_all((0..12).map(|_| stack.execute(plan, agent.id))).await;
    let mut first: Vec<_> = Vec::new();
    for _ in 0..created.len() {
        let task = agent.task().await;
        assert_eq!((task.wbs.as_str(), task.attempt), ("1.1", 1));
        first.push(task.execution_id);
    }
    first.sort();
    let mut expected: Vec<_> = created.iter().map(|e| e.id).collect();
    expected.sort();
    assert_eq!(first, expected, "each execution's first task, once");
    assert!(
        agent.next(Duration::from_millis(300)).await.is_none(),
        "nothing more until a first task completes"
    );
    for execution in &created {
        let history = stack.history(execution.id).await;
        let materialised = history
            .iter()
            .filter(|h| h.0 == "tasks_materialised")
            .count();
        assert_eq!(materialised, 1, "execution {} started once", execution.id);
    }
}
