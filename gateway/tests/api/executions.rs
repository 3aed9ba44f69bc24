use planexec_schemas::api::{ExecutionList, NextStep, ReportEventResponse};
use planexec_schemas::event::Disposition;
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::new_id;
use reqwest::Method;
use serde_json::json;

use super::support::{Api, OPERATOR};

#[tokio::test]
async fn creating_an_execution_validates_its_input() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    api.op_post("/api/executions", json!({"plan_id": 12}))
        .await
        .expect_problem(422, "validation");
    api.op_post("/api/executions", json!({"plan_id": plan}))
        .await
        .expect_problem(422, "validation");
    let problem = api
        .op_post(
            "/api/executions",
            json!({"plan_id": plan, "agent_id": larry.agent.id, "max_parallel": 0}),
        )
        .await
        .expect_problem(422, "validation");
    assert_eq!(problem.errors.expect("errors")[0].field, "max_parallel");
    api.op_post(
        "/api/executions",
        json!({"plan_id": plan, "agent_id": larry.agent.id, "routing": "random"}),
    )
    .await
    .expect_problem(422, "validation");
    api.op_post(
        "/api/executions",
        json!({"plan_id": new_id(), "agent_id": larry.agent.id}),
    )
    .await
    .expect_problem(404, "not-found");
    api.op_post(
        "/api/executions",
        json!({"plan_id": plan, "agent_id": new_id()}),
    )
    .await
    .expect_problem(404, "not-found");
    api.post(
        "/api/executions",
        Some(&larry.token),
        json!({"plan_id": plan, "agent_id": larry.agent.id}),
    )
    .await
    .expect_problem(403, "forbidden");
    api.raw(
        Method::POST,
        "/api/executions",
        Some(OPERATOR),
        "application/json",
        b"{oops".to_vec(),
    )
    .await
    .expect_problem(400, "bad-request");
    api.raw(
        Method::POST,
        "/api/executions",
        Some(OPERATOR),
        "text/plain",
        b"hello".to_vec(),
    )
    .await
    .expect_problem(415, "unsupported-media-type");

    let created = api
        .op_post(
            "/api/executions",
            json!({"plan_id": plan, "agent_id": larry.agent.id}),
        )
        .await;
    assert_eq!(created.expect(201)["status"], "CREATED");
    let id = created.body["id"].as_str().expect("id").to_owned();
    let running = api.until_status(id.parse().expect("uuid"), "RUNNING").await;
    assert_eq!(running["current_task"]["wbs"], "1.1");
    assert_eq!(running["leaves_total"], 2);
}

#[tokio::test]
async fn an_unknown_execution_is_a_404_and_a_bad_id_a_400() {
    let api = Api::start().await;
    api.op_get("/api/executions/00000000-0000-0000-0000-000000000000")
        .await
        .expect_problem(404, "not-found");
    api.op_get("/api/executions/not-a-uuid")
        .await
        .expect_problem(400, "bad-request");
    api.op_get(&format!("/api/executions/{}/tasks", new_id()))
        .await
        .expect_problem(404, "not-found");
    api.op_get(&format!("/api/executions/{}/events", new_id()))
        .await
        .expect_problem(404, "not-found");
    let patch = api
        .call(
            Method::PATCH,
            &format!("/api/executions/{}", new_id()),
            Some(OPERATOR),
            Some(json!({"status": "PAUSED"})),
        )
        .await;
    patch.expect_problem(404, "not-found");
}

#[tokio::test]
async fn pause_resume_cancel_and_an_invalid_transition_409_naming_the_states() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    api.until_status(id, "RUNNING").await;
    let path = format!("/api/executions/{id}");
    let patch = |status: &'static str| {
        api.call(
            Method::PATCH,
            &path,
            Some(OPERATOR),
            Some(json!({"status": status})),
        )
    };
    assert_eq!(patch("PAUSED").await.expect(200)["status"], "PAUSED");
    let problem = patch("PAUSED")
        .await
        .expect_problem(409, "invalid-transition");
    assert_eq!(problem.current_status, Some(ExecutionStatus::Paused));
    assert_eq!(
        problem.allowed,
        Some(vec![ExecutionStatus::Running, ExecutionStatus::Cancelled])
    );
    assert!(
        problem.detail.contains("PAUSED") && problem.detail.contains("RUNNING"),
        "{}",
        problem.detail
    );
    assert_eq!(patch("RUNNING").await.expect(200)["status"], "RUNNING");
    patch("COMPLETED").await.expect_problem(422, "validation");
    patch("SLEEPING").await.expect_problem(422, "validation");
    assert_eq!(patch("CANCELLED").await.expect(200)["status"], "CANCELLED");
    let problem = patch("RUNNING")
        .await
        .expect_problem(409, "invalid-transition");
    assert_eq!(
        (problem.current_status, problem.allowed),
        (Some(ExecutionStatus::Cancelled), Some(vec![]))
    );
}

#[tokio::test]
async fn executions_list_pages_and_filters() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let bob = api.register("bob", &["send_email"]).await;
    let plan = api.plan(&[0]).await;
    let other_plan = api.plan(&[0]).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let (p, a) = if n < 3 {
            (plan, larry.agent.id)
        } else {
            (other_plan, bob.agent.id)
        };
        ids.push(api.execution(p, a).await);
    }
    let first: ExecutionList = api.op_get("/api/executions?limit=2").await.parse(200);
    assert_eq!(
        first.executions.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[4], ids[3]]
    );
    let cursor = first.next_cursor.expect("more pages");
    let second: ExecutionList = api
        .op_get(&format!("/api/executions?limit=2&cursor={cursor}"))
        .await
        .parse(200);
    assert_eq!(
        second.executions.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let by_plan: ExecutionList = api
        .op_get(&format!("/api/executions?plan_id={plan}"))
        .await
        .parse(200);
    assert_eq!(by_plan.executions.len(), 3);
    let by_agent: ExecutionList = api
        .op_get(&format!("/api/executions?agent_id={}", bob.agent.id))
        .await
        .parse(200);
    assert_eq!(by_agent.executions.len(), 2);
    let cancelled: ExecutionList = api
        .op_get("/api/executions?status=CANCELLED")
        .await
        .parse(200);
    assert!(cancelled.executions.is_empty());
    api.op_get("/api/executions?limit=0")
        .await
        .expect_problem(422, "validation");
    api.op_get("/api/executions?limit=100000")
        .await
        .expect_problem(422, "validation");
    api.op_get("/api/executions?cursor=garbage")
        .await
        .expect_problem(422, "validation");
    api.op_get("/api/executions?status=DONE")
        .await
        .expect_problem(422, "validation");
}

#[tokio::test]
async fn the_tasks_of_an_execution_nest_their_subtasks() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[2, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    api.until_status(id, "RUNNING").await;
    let tasks = api
        .op_get(&format!("/api/executions/{id}/tasks"))
        .await
        .expect(200)
        .clone();
    let tasks = tasks.as_array().expect("a list");
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["subtasks"].as_array().map(Vec::len), Some(2));
    assert_eq!(tasks[0]["is_leaf"], false);
    assert_eq!(tasks[0]["subtasks"][0]["status"], "dispatched");
    assert_eq!(tasks[1]["is_leaf"], true);
}

#[tokio::test]
async fn reassigning_and_resolving_go_through_the_coordinator() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let bob = api.register("bob", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    let task = api.work(&larry).await;
    let moved = api
        .op_post(
            &format!("/api/executions/{id}/reassign"),
            json!({"agent_id": bob.agent.id}),
        )
        .await;
    assert_eq!(moved.expect(200)["agent_id"], bob.agent.id.to_string());
    let cancel = api.work(&larry).await;
    assert_eq!(
        (cancel["type"].as_str(), &cancel["task_id"]),
        (Some("cancel"), &task["task_id"])
    );
    let again = api.work(&bob).await;
    assert_eq!(
        (again["task_id"].clone(), again["attempt"].clone()),
        (task["task_id"].clone(), json!(2))
    );
    api.op_post(
        &format!("/api/executions/{id}/reassign"),
        json!({"agent_id": new_id()}),
    )
    .await
    .expect_problem(404, "not-found");

    let failed = api
        .report(
            &bob,
            &again,
            json!({"event_type": "task_failed", "error": "no such inbox", "retryable": false}),
        )
        .await;
    assert_eq!(failed.expect(202)["execution_status"], "BLOCKED");
    let blocked = api.until_status(id, "BLOCKED").await;
    assert_eq!(blocked["blocked_reason"], "task_failed");
    let resolve = format!(
        "/api/executions/{id}/tasks/{}/resolve",
        again["task_id"].as_str().expect("task id")
    );
    api.op_post(&resolve, json!({"action": "rewind"}))
        .await
        .expect_problem(422, "validation");
    assert_eq!(
        api.op_post(&resolve, json!({"action": "skip"}))
            .await
            .expect(200)["status"],
        "RUNNING"
    );
    api.op_post(&resolve, json!({"action": "skip"}))
        .await
        .expect_problem(409, "conflict");
}

#[tokio::test]
async fn an_operator_completes_a_task_by_hand_with_its_output() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    let task = api.work(&larry).await;
    let resolve = format!(
        "/api/executions/{id}/tasks/{}/resolve",
        task["task_id"].as_str().expect("task id")
    );
    api.op_post(&resolve, json!({"action": "retry", "output": {}}))
        .await
        .expect_problem(422, "validation");

    let output = json!({"summary": "sent by hand", "to": "ops@example.com"});
    let answer = api
        .op_post(&resolve, json!({"action": "complete", "output": output}))
        .await;
    assert_eq!(answer.expect(200)["status"], "RUNNING");
    api.op_post(&resolve, json!({"action": "complete"}))
        .await
        .expect_problem(409, "conflict");

    let tasks = api.op_get(&format!("/api/executions/{id}/tasks")).await;
    let done = &tasks.expect(200)[0];
    assert_eq!(
        (done["status"].clone(), done["result"].clone()),
        (json!("completed"), output.clone())
    );
    let marked = api
        .op_get(&format!(
            "/api/executions/{id}/events?type=task_marked_complete"
        ))
        .await;
    let events = marked.expect(200)["events"].clone();
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{events}");
    assert_eq!(events[0]["output"]["output"], output);

    // The agent that held it was told to stop; its late answer does not count.
    let late = api
        .report(
            &larry,
            &task,
            json!({"event_type": "task_complete", "output": {}}),
        )
        .await;
    let late: ReportEventResponse = serde_json::from_value(late.body).expect("an event answer");
    assert_eq!(late.disposition, Disposition::Rejected);
    let next = match late.next {
        NextStep::Task { task } => serde_json::to_value(task).expect("json"),
        _ => api.work(&larry).await,
    };
    let last = api
        .report(
            &larry,
            &next,
            json!({"event_type": "task_complete", "output": {}}),
        )
        .await;
    assert_eq!(last.expect(200)["execution_status"], "COMPLETED");
    let finished = api.until_status(id, "COMPLETED").await;
    assert_eq!(finished["leaves_done"], 2);
}
