use planexec_schemas::agent::AgentStatus;
use planexec_schemas::api::AgentList;
use serde_json::json;

use super::support::{Api, OPERATOR};

#[tokio::test]
async fn registering_an_agent_needs_the_operator_token_and_valid_capabilities() {
    let api = Api::start().await;
    let body = json!({"name": "larry", "capabilities": ["send_email"]});
    api.post("/api/agents", None, body.clone())
        .await
        .expect_problem(401, "unauthorized");
    api.post("/api/agents", Some("not-the-token"), body.clone())
        .await
        .expect_problem(401, "unauthorized");

    let problem = api
        .op_post("/api/agents", json!({"name": "x", "capabilities": []}))
        .await
        .expect_problem(422, "validation");
    assert_eq!(
        problem.errors.expect("field errors")[0].field,
        "capabilities"
    );
    let problem = api
        .op_post(
            "/api/agents",
            json!({"name": "x", "capabilities": ["send_email", "Make Calls"]}),
        )
        .await
        .expect_problem(422, "validation");
    assert_eq!(
        problem.errors.expect("field errors")[0].field,
        "capabilities[1]"
    );
    api.op_post(
        "/api/agents",
        json!({"name": "x", "capabilities": ["send_email"], "colour": "red"}),
    )
    .await
    .expect_problem(422, "validation");
    api.op_post(
        "/api/agents",
        json!({"name": 7, "capabilities": ["send_email"]}),
    )
    .await
    .expect_problem(422, "validation");
    api.op_post(
        "/api/agents",
        json!({"name": "x".repeat(5000), "capabilities": ["send_email"]}),
    )
    .await
    .expect_problem(422, "validation");

    let larry = api
        .register("larry", &["send_email", "make_phone_call"])
        .await;
    assert!(larry.token.starts_with("pxa_"));
    assert_eq!(larry.agent.status, AgentStatus::Online);
    assert_eq!(larry.agent.role, "assistant");
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM agents WHERE id = $1")
        .bind(larry.agent.id)
        .fetch_one(&api.pool)
        .await
        .expect("hash");
    assert!(
        !stored.contains(&larry.token) && stored.len() == 64,
        "the token is stored hashed"
    );
}

#[tokio::test]
async fn an_agent_is_visible_to_the_operator_and_to_itself_only() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let other = api.register("other", &["send_email"]).await;
    let path = format!("/api/agents/{}", larry.agent.id);
    assert_eq!(api.op_get(&path).await.expect(200)["name"], "larry");
    assert_eq!(
        api.get(&path, Some(&larry.token)).await.expect(200)["capabilities"],
        json!(["send_email"])
    );
    api.get(&path, Some(&other.token))
        .await
        .expect_problem(403, "forbidden");
    api.op_get(&format!("/api/agents/{}", planexec_schemas::new_id()))
        .await
        .expect_problem(404, "not-found");
    api.op_get("/api/agents/not-an-id")
        .await
        .expect_problem(400, "bad-request");
    api.get("/api/agents", Some(&larry.token))
        .await
        .expect_problem(403, "forbidden");
}

#[tokio::test]
async fn agents_list_filters_by_status() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    api.register("bob", &["make_phone_call"]).await;
    sqlx::query("UPDATE agents SET status = 'offline' WHERE id = $1")
        .bind(larry.agent.id)
        .execute(&api.pool)
        .await
        .expect("offline");
    let all: AgentList = api.op_get("/api/agents").await.parse(200);
    assert_eq!(all.agents.len(), 2);
    let offline: AgentList = api.op_get("/api/agents?status=offline").await.parse(200);
    assert_eq!(
        offline.agents.iter().map(|a| a.id).collect::<Vec<_>>(),
        [larry.agent.id]
    );
    api.op_get("/api/agents?status=sleeping")
        .await
        .expect_problem(422, "validation");
}

#[tokio::test]
async fn heartbeats_are_accepted_from_the_agent_itself() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let other = api.register("other", &["send_email"]).await;
    let path = format!("/api/agents/{}/heartbeat", larry.agent.id);
    let answer = api.post(&path, Some(&larry.token), json!({})).await;
    assert_eq!(answer.status.as_u16(), 204);
    api.post(&path, Some(&other.token), json!({}))
        .await
        .expect_problem(403, "forbidden");
    api.post(&path, Some(OPERATOR), json!({}))
        .await
        .expect_problem(403, "forbidden");
}

#[tokio::test]
async fn an_idle_agent_polls_204_and_a_dispatched_task_arrives_by_long_poll() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let other = api.register("other", &["send_email"]).await;
    let work = format!("/api/agents/{}/work", larry.agent.id);
    assert_eq!(
        api.get(&format!("{work}?wait=0"), Some(&larry.token))
            .await
            .status
            .as_u16(),
        204
    );
    api.get(&work, Some("Bearer-but-wrong"))
        .await
        .expect_problem(401, "unauthorized");
    api.get(&work, Some(&other.token))
        .await
        .expect_problem(403, "forbidden");
    api.get(&work, Some(OPERATOR))
        .await
        .expect_problem(403, "forbidden");
    api.get(&format!("{work}?wait=soon"), Some(&larry.token))
        .await
        .expect_problem(422, "validation");

    let plan = api.plan(&[0]).await;
    let poll = {
        let api_base = api.base.clone();
        let token = larry.token.clone();
        let path = format!("{work}?wait=10");
        tokio::spawn(async move {
            planexec_tls::client()
                .get(format!("{api_base}{path}"))
                .bearer_auth(token)
                .send()
                .await
        })
    };
    let execution = api.execution(plan, larry.agent.id).await;
    let response = poll.await.expect("joined").expect("answered");
    assert_eq!(
        response.status().as_u16(),
        200,
        "the waiting poll got the task"
    );
    let task: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        (task["type"].as_str(), task["execution_id"].as_str()),
        (Some("task"), Some(execution.to_string().as_str()))
    );
    assert_eq!(task["attempt"], 1);
}
