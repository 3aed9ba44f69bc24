//! JSON bodies are taken only in the shape their schema in the OpenAPI document says: an object
//! given as an array is refused (and nothing is stored), a whole number written as a float is
//! an integer where one is due, free-form values stay as sent, and an empty cursor is the first
//! page.

use planexec_schemas::api::AgentList;
use planexec_schemas::plan::Plan;
use reqwest::Method;
use serde_json::json;

use super::support::{Api, OPERATOR};

#[tokio::test]
async fn an_object_body_given_as_an_array_is_refused_and_nothing_is_stored() {
    let api = Api::start().await;
    let problem = api
        .op_post("/api/agents", json!(["name", "assistant", ["x"]]))
        .await
        .expect_problem(422, "validation");
    let errors = problem.errors.expect("field errors");
    assert_eq!(errors[0].field, "body");
    assert!(
        errors[0]
            .message
            .contains("expected an object, found an array"),
        "{errors:?}"
    );
    let agents: AgentList = api.op_get("/api/agents").await.parse(200);
    assert!(agents.agents.is_empty(), "{:?}", agents.agents);

    let document = json!({"title": "Plan", "phases": [{"title": "Only", "tasks": [
        {"title": "Write it down", "capability": "document_findings", "duration_days": [1, 2, 3]}
    ]}]});
    let problem = api
        .op_post("/api/plans", document)
        .await
        .expect_problem(422, "validation");
    let errors = problem.errors.expect("field errors");
    assert_eq!(errors[0].field, "phases[0].tasks[0].duration_days");
    assert!(
        errors[0].message.contains("expected an object or null"),
        "{errors:?}"
    );
    assert!(
        api.op_get("/api/plans").await.expect(200)["plans"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0]).await;
    api.op_post("/api/executions", json!([plan, larry.agent.id]))
        .await
        .expect_problem(422, "validation");
}

#[tokio::test]
async fn whole_floats_are_integers_where_integers_are_due_and_free_form_values_stay_as_sent() {
    let api = Api::start().await;
    let larry = api
        .register("larry", &["send_email", "document_findings"])
        .await;
    let document = json!({"title": "Plan", "phases": [{"title": "Only", "tasks": [
        {"title": "Write it down", "capability": "document_findings",
         "timeout_seconds": 60.0, "max_attempts": 3.0, "duration_days": {"realistic": 2.0}}
    ]}]});
    let imported = api.op_post("/api/plans", document).await;
    let plan = imported.expect(201)["id"].clone();
    let stored: Plan = api
        .op_get(&format!("/api/plans/{}", plan.as_str().unwrap_or_default()))
        .await
        .parse(200);
    let task = &stored.phases[0].tasks[0];
    assert_eq!(
        (task.timeout_seconds, task.max_attempts),
        (Some(60), Some(3))
    );

    let edited: Plan = api
        .call(
            Method::PUT,
            &format!("/api/plans/{}/tasks/1.1", plan.as_str().unwrap_or_default()),
            Some(OPERATOR),
            Some(json!({"max_attempts": 4.0, "params": {"count": 6.0, "ratio": 0.5}})),
        )
        .await
        .parse(200);
    let task = &edited.phases[0].tasks[0];
    assert_eq!(task.max_attempts, Some(4));
    assert!(
        task.params["count"].is_f64(),
        "params changed: {}",
        task.params
    );
    assert_eq!(task.params["count"], json!(6.0));

    let run = api.plan(&[0]).await;
    api.op_post(
        "/api/executions",
        json!({"plan_id": run, "agent_id": larry.agent.id, "max_parallel": 1.5}),
    )
    .await
    .expect_problem(422, "validation");
    let execution = api
        .op_post(
            "/api/executions",
            json!({"plan_id": run, "agent_id": larry.agent.id, "max_parallel": 2.0}),
        )
        .await;
    assert_eq!(execution.expect(201)["max_parallel"], 2);
    let task = api.work(&larry).await;
    let attempt = task["attempt"].as_u64().expect("attempt") as f64;
    let answer = api
        .report(
            &larry,
            &task,
            json!({"event_type": "task_started", "attempt": attempt}),
        )
        .await;
    assert!(answer.status.is_success(), "{answer:?}");
    assert_eq!(answer.body["disposition"], "applied", "{answer:?}");
}

#[tokio::test]
async fn an_empty_cursor_is_the_first_page() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0]).await;
    let execution = api.execution(plan, larry.agent.id).await;
    // Once the task has reached the agent, the history holds still until the agent reports.
    api.work(&larry).await;
    let events = format!("/api/executions/{execution}/events");
    for path in ["/api/plans", "/api/executions", events.as_str()] {
        let first = api.op_get(path).await.expect(200).clone();
        let empty = api
            .op_get(&format!("{path}?cursor="))
            .await
            .expect(200)
            .clone();
        assert_eq!(empty, first, "{path}");
    }
}

#[tokio::test]
async fn no_answer_holds_a_nul_even_when_it_quotes_the_input() {
    let api = Api::start().await;
    let document = json!({"title": "Plan", "source": {"reference": "run\u{0}zip"},
        "phases": [{"title": "Only", "tasks": [{"title": "Write it down"}]}]});
    let answer = api.op_post("/api/plans", document).await;
    let problem = answer.expect_problem(422, "import-failed");
    assert!(!problem.detail.contains('\u{0}'), "{}", problem.detail);
    assert!(
        problem.detail.contains("run\\u{0}zip"),
        "{}",
        problem.detail
    );
}
