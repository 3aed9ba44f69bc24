//! `planexec events archive`: the real command against the database of a running `planexec up`.

use std::time::Duration;

use serde_json::{Value, json};

use super::support::Stack;

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn planexec_events_archive_moves_an_ended_execution_and_the_api_reads_it_back() {
    let stack = Stack::up().await;
    let (agent, _) = stack.register_larry("larry").await;
    let plan = stack
        .post(
            "/api/plans",
            json!({"title": "Newsletter", "phases": [{"title": "Send", "tasks": [
                {"title": "Send the newsletter email", "description": "Send an email to every breeder.",
                 "capability": "send_email"}]}]}),
        )
        .await;
    let plan = plan["id"].as_str().expect("plan id").to_owned();
    let running = stack
        .post(
            "/api/executions",
            json!({"plan_id": plan, "agent_id": agent}),
        )
        .await;
    let running = running["id"].as_str().expect("id").to_owned();
    let ended = stack
        .post(
            "/api/executions",
            json!({"plan_id": plan, "agent_id": agent}),
        )
        .await;
    let ended = ended["id"].as_str().expect("id").to_owned();
    stack
        .call(
            reqwest::Method::PATCH,
            &format!("/api/executions/{ended}"),
            Some(json!({"status": "CANCELLED"})),
        )
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while stack.get(&format!("/api/executions/{ended}")).await["status"] != "CANCELLED" {
        assert!(tokio::time::Instant::now() < deadline, "never CANCELLED");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The running one has started (its first task dispatched, no agent to take it): its
    // history stays as it is unless something touches it.
    while stack.get(&format!("/api/executions/{running}")).await["status"] != "RUNNING" {
        assert!(tokio::time::Instant::now() < deadline, "never RUNNING");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let history = stack.history(&ended).await;
    let running_history = stack.history(&running).await;
    assert!(!history.is_empty() && !running_history.is_empty());

    let dry = parse(&stack.cli(&[
        "events",
        "archive",
        "--older-than",
        "0s",
        "--dry-run",
        "--output",
        "json",
    ]));
    assert_eq!(
        (&dry["events"], &dry["executions"], &dry["dry_run"]),
        (&json!(history.len()), &json!(1), &json!(true)),
        "{dry}"
    );
    assert_eq!(
        stack.history(&ended).await,
        history,
        "a dry run moves nothing"
    );

    let moved = parse(&stack.cli(&[
        "events",
        "archive",
        "--older-than",
        "0s",
        "--batch",
        "2",
        "--output",
        "json",
    ]));
    assert_eq!(
        (&moved["events"], &moved["executions"]),
        (&json!(history.len()), &json!(1)),
        "{moved}"
    );
    assert!(
        stack.history(&ended).await.is_empty(),
        "gone from the live history"
    );
    assert_eq!(
        stack.history(&running).await,
        running_history,
        "the running execution is untouched"
    );
    let archived = stack
        .get(&format!(
            "/api/executions/{ended}/events?archived=true&disposition=all&limit=1000"
        ))
        .await;
    let mut archived = archived["events"].as_array().cloned().unwrap_or_default();
    archived.reverse();
    assert_eq!(archived, history);
    assert!(stack.get(&format!("/api/executions/{ended}")).await["events_archived_at"].is_string());

    let listed = parse(&stack.cli(&[
        "exec",
        "events",
        &ended,
        "--archived",
        "--limit",
        "1000",
        "--output",
        "json",
    ]));
    assert_eq!(listed.as_array().map(Vec::len), Some(history.len()));
    let status = stack.cli(&["exec", "status", &ended]);
    assert!(status.contains("events archived at"), "{status}");

    let again = stack.cli(&["events", "archive", "--older-than", "0s"]);
    assert!(
        again.starts_with("moved 0 events of 0 executions"),
        "{again}"
    );
}
