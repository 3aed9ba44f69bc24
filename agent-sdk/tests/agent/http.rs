//! The HTTP transport through a real gateway (long-polling, events with next steps).

use std::time::Duration;

use planexec_agent_sdk::{Agent, Credentials, Error, RegisterVia, Registration};
use planexec_schemas::execution::ExecutionStatus;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::support::{OPERATOR, Stack, emailer, task_events};

async fn register_through(gateway: &str, stack: &Stack) -> Credentials {
    let registered = planexec_agent_sdk::register(
        &RegisterVia::Gateway {
            url: gateway.into(),
            operator_token: OPERATOR.into(),
        },
        &stack.ns,
        &Registration {
            name: "poller".into(),
            role: "script".into(),
            capabilities: vec!["send_email".into()],
        },
    )
    .await
    .expect("the agent registers through the gateway");
    Credentials::from(&registered)
}

#[tokio::test]
async fn an_agent_registered_through_the_gateway_runs_a_plan_to_completed_over_http() {
    let stack = Stack::new().await;
    let gateway = stack.gateway().await;
    let plan = stack.plan(&["send_email"; 3]).await;
    let credentials = register_through(&gateway, &stack).await;
    let agent = stack.run(
        stack.http_options(&credentials, &gateway),
        emailer(|task, ctx| async move {
            ctx.progress(50.0, "written").await;
            Ok(serde_json::json!({ "sent": task.wbs }))
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 2).await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    let report = agent.stop().await;
    assert_eq!((report.tasks_completed, report.events_lost), (3, 0));
    let history = stack.until_agent_events(execution.id, 9).await;
    let task = history.iter().find_map(|e| e.task_id).expect("a task");
    let kinds: Vec<String> = task_events(&history, task)
        .into_iter()
        .map(|(kind, _, disposition)| format!("{kind}:{disposition}"))
        .collect();
    assert_eq!(
        kinds,
        [
            "task_started:applied",
            "task_progress:applied",
            "task_complete:applied"
        ]
    );
}

#[tokio::test]
async fn a_cancel_reaches_an_http_agent_whose_every_slot_is_busy() {
    let stack = Stack::new().await;
    let gateway = stack.gateway().await;
    let plan = stack.plan(&["send_email"]).await;
    let credentials = register_through(&gateway, &stack).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut options = stack.http_options(&credentials, &gateway);
    // One slot, taken by the task: cancels must still come through.
    options.concurrency = 1;
    let agent = stack.run(
        options,
        emailer(move |_task, ctx| {
            let tx = tx.clone();
            async move {
                let _ = tx.send("started");
                ctx.cancelled().await;
                let _ = tx.send("cancelled");
                Ok(serde_json::Value::Null)
            }
        }),
    );
    let execution = stack.execute(plan, credentials.agent_id, 1).await;
    assert_eq!(rx.recv().await, Some("started"));
    stack
        .until(execution.id, "running", |e| e.current_task.is_some())
        .await;
    stack.cancel(execution.id).await;
    let heard = tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("the cancel arrives with a poll");
    assert_eq!(heard, Some("cancelled"));
    let report = agent.stop().await;
    assert_eq!(report.tasks_cancelled, 1);
}

#[tokio::test]
async fn an_http_agent_with_a_wrong_token_stops_with_unauthorised() {
    let stack = Stack::new().await;
    let gateway = stack.gateway().await;
    let credentials = register_through(&gateway, &stack).await;
    let forged = Credentials {
        token: planexec_agent_sdk::new_token(credentials.agent_id),
        ..credentials
    };
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        Agent::new(stack.http_options(&forged, &gateway))
            .expect("valid options")
            .run(
                emailer(|_task, _ctx| async { Ok(serde_json::Value::Null) }),
                CancellationToken::new(),
            ),
    )
    .await
    .expect("the agent stops at once");
    assert!(
        matches!(result, Err(Error::Unauthorised { .. })),
        "{result:?}"
    );
}
