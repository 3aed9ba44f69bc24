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
