//! Changing, rotating and deleting agents; names that show nothing.

use reqwest::Method;
use serde_json::json;

use super::support::{Api, OPERATOR};

#[tokio::test]
async fn a_rotated_token_replaces_the_old_one_and_a_deleted_agent_is_locked_out() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let path = format!("/api/agents/{}", larry.agent.id);
    api.get(&path, Some(&larry.token)).await.expect(200);

    let rotated: planexec_schemas::api::RegisteredAgent = api
        .op_post(&format!("{path}/token"), json!({}))
        .await
        .parse(200);
    assert_ne!(rotated.token, larry.token);
    assert_eq!(rotated.agent.id, larry.agent.id);
    api.get(&path, Some(&larry.token))
        .await
        .expect_problem(401, "unauthorized");
    api.get(&path, Some(&rotated.token)).await.expect(200);

    // Only the operator deletes; afterwards the agent is gone and its token works nowhere.
    api.call(Method::DELETE, &path, Some(&rotated.token), None)
        .await
        .expect_problem(403, "forbidden");
    let deleted = api.call(Method::DELETE, &path, Some(OPERATOR), None).await;
    assert_eq!(deleted.status.as_u16(), 204, "{deleted:?}");
    api.get(&path, Some(&rotated.token))
        .await
        .expect_problem(401, "unauthorized");
    api.op_get(&path).await.expect_problem(404, "not-found");
    api.call(Method::DELETE, &path, Some(OPERATOR), None)
        .await
        .expect_problem(404, "not-found");
    let listed = api.op_get("/api/agents").await;
    let ids: Vec<&str> = listed.expect(200)["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert!(
        !ids.contains(&larry.agent.id.to_string().as_str()),
        "{ids:?}"
    );
}

#[tokio::test]
async fn an_update_changes_what_is_given_and_checks_it_like_a_registration() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let path = format!("/api/agents/{}", larry.agent.id);
    let updated = api
        .call(
            Method::PATCH,
            &path,
            Some(OPERATOR),
            Some(json!({"capabilities": ["send_email", "make_phone_call"]})),
        )
        .await;
    let body = updated.expect(200);
    assert_eq!(body["name"], "larry");
    assert_eq!(
        body["capabilities"],
        json!(["send_email", "make_phone_call"])
    );
    let problem = api
        .call(
            Method::PATCH,
            &path,
            Some(OPERATOR),
            Some(json!({"capabilities": []})),
        )
        .await
        .expect_problem(422, "validation");
    assert_eq!(problem.errors.expect("errors")[0].field, "capabilities");
    api.call(Method::PATCH, &path, Some(OPERATOR), Some(json!({})))
        .await
        .expect_problem(422, "validation");
    api.call(
        Method::PATCH,
        &path,
        Some(&larry.token),
        Some(json!({"name": "me"})),
    )
    .await
    .expect_problem(403, "forbidden");
}

#[tokio::test]
async fn a_name_of_zero_width_characters_is_refused() {
    let api = Api::start().await;
    let problem = api
        .op_post(
            "/api/agents",
            json!({"name": "\u{200B}\u{200D}\u{FEFF}", "capabilities": ["send_email"]}),
        )
        .await
        .expect_problem(422, "validation");
    assert_eq!(problem.errors.expect("errors")[0].field, "name");
}

#[tokio::test]
async fn a_very_long_uri_is_a_414_problem() {
    let api = Api::start().await;
    let long = "a".repeat(20_000);
    api.op_get(&format!("/api/executions?cursor={long}"))
        .await
        .expect_problem(414, "uri-too-long");
}
