use reqwest::Method;
use serde_json::json;

use super::support::{Api, OPERATOR};

#[tokio::test]
async fn health_readiness_and_openapi_are_served() {
    let api = Api::start().await;
    assert_eq!(api.get("/healthz", None).await.expect(200)["status"], "ok");
    assert_eq!(
        api.get("/readyz", None).await.expect(200),
        &json!({"database": true, "nats": true})
    );
    let document = api.get("/api/openapi.json", None).await.expect(200).clone();
    for path in [
        "/api/executions",
        "/api/executions/{execution_id}",
        "/api/agents/{agent_id}/work",
        "/api/executions/{execution_id}/events",
        "/api/agents",
        "/api/agents/{agent_id}",
        "/api/plans",
        "/api/plans/{plan_id}",
        "/api/plans/{plan_id}/approve",
        "/api/plans/{plan_id}/tasks/{task}",
        "/api/tasks/poll/{taskType}",
        "/api/tasks",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            document["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let readiness = &document["paths"]["/readyz"]["get"]["responses"];
    assert!(readiness.get("200").is_some() && readiness.get("503").is_some());
}

#[tokio::test]
async fn values_postgresql_cannot_store_are_refused_before_they_reach_the_database() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    let execution = api.execution(plan, larry.agent.id).await;

    let problem = api
        .op_post(
            "/api/agents",
            json!({"name": "lar\u{0}ry", "capabilities": ["send_email"]}),
        )
        .await
        .expect_problem(422, "validation");
    assert_eq!(problem.errors.expect("errors")[0].field, "name");
    api.call(
        Method::PATCH,
        &format!("/api/executions/{execution}"),
        Some(OPERATOR),
        Some(json!({"status": "CANCELLED", "reason": "stop\u{0}now"})),
    )
    .await
    .expect_problem(422, "validation");
    let task = api.work(&larry).await;
    let problem = api
        .report(
            &larry,
            &task,
            json!({"event_type": "task_complete", "output": {"rows": ["ok", "x\u{0}"]}}),
        )
        .await
        .expect_problem(422, "validation");
    assert_eq!(problem.errors.expect("errors")[0].field, "output.rows[1]");
    let problem = api
        .report(
            &larry,
            &task,
            json!({"event_type": "task_started", "timestamp": "-4714-01-01T00:00:00Z"}),
        )
        .await
        .expect_problem(422, "validation");
    assert_eq!(problem.errors.expect("errors")[0].field, "timestamp");
    api.call(
        Method::PUT,
        &format!("/api/plans/{plan}/tasks/1.%00"),
        Some(OPERATOR),
        Some(json!({"capability": "send_email"})),
    )
    .await
    .expect_problem(400, "bad-request");
    api.op_get("/api/plans?cursor=%00")
        .await
        .expect_problem(422, "validation");
    // Nothing was half-stored: the refused cancellation left the execution running.
    assert_eq!(
        api.op_get(&format!("/api/executions/{execution}"))
            .await
            .expect(200)["status"],
        "RUNNING"
    );
}

#[tokio::test]
async fn a_cursor_outside_of_time_is_a_validation_problem() {
    let api = Api::start().await;
    let id = planexec_schemas::new_id();
    for path in ["/api/executions", "/api/plans"] {
        for micros in ["-8000000000000000000", "8000000000000000000"] {
            api.op_get(&format!("{path}?cursor={micros}.{id}"))
                .await
                .expect_problem(422, "validation");
        }
    }
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_oversized_bodies_are_problems() {
    let api = Api::start().await;
    api.op_get("/api/nothing-here")
        .await
        .expect_problem(404, "no-route");
    api.call(Method::DELETE, "/api/agents", Some(OPERATOR), None)
        .await
        .expect_problem(405, "method-not-allowed");
    let huge = json!({"name": "x".repeat(100_000), "capabilities": ["send_email"]});
    api.op_post("/api/agents", huge)
        .await
        .expect_problem(413, "payload-too-large");
}

#[tokio::test]
async fn the_committed_openapi_document_matches_the_code() {
    let generated = serde_json::to_string_pretty(&planexec_gateway::openapi(
        &planexec_gateway::GatewayOptions::default(),
    ))
    .expect("serialises")
        + "\n";
    let path = planexec_harness::repo_root().join("docs/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `cargo run -p planexec-gateway --bin write-openapi` and commit it",
        path.display()
    );
}

#[tokio::test]
async fn every_operation_has_a_unique_operation_id_and_every_schema_a_meaningful_name() {
    let document = serde_json::to_value(planexec_gateway::openapi(
        &planexec_gateway::GatewayOptions::default(),
    ))
    .expect("serialises");
    let mut seen = std::collections::BTreeSet::new();
    let paths = document["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            let Some(id) = operation["operationId"].as_str() else {
                panic!(
                    "{} {path} has no operationId: add it to gateway/src/routes/operation_ids.rs",
                    method.to_uppercase()
                );
            };
            assert!(seen.insert(id.to_owned()), "operationId {id} is used twice");
        }
    }
    for name in document["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
    {
        assert!(
            !name.ends_with(|c: char| c.is_ascii_digit()),
            "schema {name} is named by a counter: give its type a name of its own"
        );
    }
}
