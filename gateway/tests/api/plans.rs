use std::io::Write;

use planexec_schemas::plan::{ImportSummary, Plan, PlanStatus};
use reqwest::Method;
use serde_json::json;

use super::support::{Api, OPERATOR};

fn shared_zip(name: &str) -> Vec<u8> {
    let path = planexec_harness::planexe_runs()
        .into_iter()
        .find(|p| p.ends_with(name))
        .expect("the shared run exists");
    std::fs::read(path).expect("zip readable")
}

#[tokio::test]
async fn a_planexe_zip_imports_and_reads_back_as_a_tree_that_needs_review() {
    let api = Api::start().await;
    let zip = shared_zip("20250517_tea_eshop.zip");
    let summary: ImportSummary = api
        .raw(
            Method::POST,
            "/api/plans?name=tea%20eshop.zip",
            Some(OPERATOR),
            "application/zip",
            zip,
        )
        .await
        .parse(201);
    assert_eq!(
        (
            summary.phases,
            summary.tasks,
            summary.subtasks,
            summary.dependencies,
            summary.durations
        ),
        (5, 25, 122, 20, 30)
    );
    assert!(summary.needs_review && summary.confidence < 0.7);
    assert_eq!(summary.source.reference.as_deref(), Some("tea eshop.zip"));
    let id = summary.id.expect("stored");
    let plan: Plan = api.op_get(&format!("/api/plans/{id}")).await.parse(200);
    assert_eq!(plan.status, PlanStatus::NeedsReview);
    assert_eq!(plan.phases.len(), 5);
    assert_eq!(plan.phases[0].tasks[0].wbs, "1.1");
    assert!(
        plan.phases
            .iter()
            .flat_map(|p| &p.tasks)
            .flat_map(|t| &t.subtasks)
            .all(|s| !s.capability.evidence.is_empty())
    );

    let approved = api
        .op_post(&format!("/api/plans/{id}/approve"), json!({}))
        .await;
    assert_eq!(approved.expect(200)["plan_id"], id.to_string());
    let plan: Plan = api.op_get(&format!("/api/plans/{id}")).await.parse(200);
    assert_eq!(plan.status, PlanStatus::Approved);
}

#[tokio::test]
async fn a_zip_uploads_as_multipart_too() {
    let api = Api::start().await;
    let zip = shared_zip("20250209_lunar_base.zip");
    let boundary = "planexec-boundary";
    let mut body = Vec::new();
    write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lunar.zip\"\r\nContent-Type: application/zip\r\n\r\n").expect("write");
    body.extend(zip);
    write!(body, "\r\n--{boundary}--\r\n").expect("write");
    let summary: ImportSummary = api
        .raw(
            Method::POST,
            "/api/plans",
            Some(OPERATOR),
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await
        .parse(201);
    assert_eq!(
        (summary.phases, summary.tasks, summary.subtasks),
        (7, 35, 159)
    );
    assert_eq!(summary.source.reference.as_deref(), Some("lunar.zip"));
}

#[tokio::test]
async fn the_multipart_part_named_file_is_the_upload_whatever_comes_first() {
    let api = Api::start().await;
    let zip = shared_zip("20250209_lunar_base.zip");
    let boundary = "planexec-boundary";
    let mut body = Vec::new();
    write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n{{}}\r\n"
    )
    .expect("write");
    write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lunar.zip\"\r\n\r\n").expect("write");
    body.extend(zip);
    write!(body, "\r\n--{boundary}--\r\n").expect("write");
    let summary: ImportSummary = api
        .raw(
            Method::POST,
            "/api/plans",
            Some(OPERATOR),
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await
        .parse(201);
    assert_eq!(summary.source.reference.as_deref(), Some("lunar.zip"));
}

#[tokio::test]
async fn a_broken_upload_is_refused_precisely_and_nothing_is_stored() {
    let api = Api::start().await;
    let mut zip = shared_zip("20250517_tea_eshop.zip");
    zip.truncate(zip.len() / 2);
    let problem = api
        .raw(
            Method::POST,
            "/api/plans",
            Some(OPERATOR),
            "application/zip",
            zip,
        )
        .await
        .expect_problem(422, "import-failed");
    assert!(problem.detail.contains("zip"), "{}", problem.detail);
    api.raw(
        Method::POST,
        "/api/plans",
        Some(OPERATOR),
        "text/csv",
        b"a,b".to_vec(),
    )
    .await
    .expect_problem(415, "unsupported-media-type");
    let dangling = json!({"title": "x", "phases": [{"title": "p", "tasks": [{"title": "t", "depends_on": [{"key": "nowhere"}]}]}]});
    let problem = api
        .op_post("/api/plans", dangling)
        .await
        .expect_problem(422, "import-failed");
    assert!(problem.detail.contains("nowhere"), "{}", problem.detail);
    api.op_post("/api/plans", json!({"title": "x", "phases": "none"}))
        .await
        .expect_problem(422, "validation");
    let big = vec![b'x'; 9 * 1024 * 1024];
    api.raw(
        Method::POST,
        "/api/plans",
        Some(OPERATOR),
        "application/zip",
        big,
    )
    .await
    .expect_problem(413, "payload-too-large");
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(&api.pool)
        .await
        .expect("count");
    assert_eq!(plans, 0);
}

#[tokio::test]
async fn a_low_confidence_plan_waits_in_needs_review_until_approved() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email", "human_review"]).await;
    let document = json!({"title": "Build a shed", "phases": [{"title": "Build", "tasks": [
        {"title": "Pour the concrete foundation", "description": "Pour it."},
        {"title": "Erect the timber frame"}
    ]}]});
    let summary: ImportSummary = api.op_post("/api/plans", document).await.parse(201);
    assert!(summary.needs_review, "{summary:?}");
    let plan = summary.id.expect("id");
    let execution = api.execution(plan, larry.agent.id).await;
    let waiting = api.until_status(execution, "NEEDS_REVIEW").await;
    assert_eq!(
        waiting["leaves_total"], 0,
        "no task is materialised before the review"
    );
    assert_eq!(
        api.get(
            &format!("/api/agents/{}/work?wait=1", larry.agent.id),
            Some(&larry.token)
        )
        .await
        .status
        .as_u16(),
        204
    );
    let released = api
        .op_post(&format!("/api/plans/{plan}/approve"), json!({}))
        .await;
    assert_eq!(released.expect(200)["released_executions"], 1);
    api.until_status(execution, "RUNNING").await;
    assert_eq!(api.work(&larry).await["wbs"], "1.1");
}

#[tokio::test]
async fn an_operator_corrects_a_leaf_or_replaces_the_decomposition_until_it_runs() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email", "manage_csv"]).await;
    let plan = api.plan(&[2]).await;
    let path = format!("/api/plans/{plan}/tasks/1.1.2");
    let edited: Plan = api
        .call(
            Method::PUT,
            &path,
            Some(OPERATOR),
            Some(json!({"capability": "manage_csv", "params": {"file": "breeders.csv"}})),
        )
        .await
        .parse(200);
    let leaf = &edited.phases[0].tasks[0].subtasks[1];
    assert_eq!(
        (
            leaf.capability.capability.as_str(),
            leaf.capability.chosen_by.as_str(),
            leaf.confidence
        ),
        ("manage_csv", "operator", 1.0)
    );
    api.call(Method::PUT, &path, Some(OPERATOR), Some(json!({})))
        .await
        .expect_problem(422, "validation");
    api.call(
        Method::PUT,
        &path,
        Some(OPERATOR),
        Some(json!({"capability": "Fly!"})),
    )
    .await
    .expect_problem(422, "validation");
    api.call(
        Method::PUT,
        &format!("/api/plans/{plan}/tasks/1.1"),
        Some(OPERATOR),
        Some(json!({"capability": "send_email"})),
    )
    .await
    .expect_problem(409, "conflict");
    api.call(
        Method::PUT,
        &format!("/api/plans/{plan}/tasks/9.9"),
        Some(OPERATOR),
        Some(json!({"capability": "send_email"})),
    )
    .await
    .expect_problem(404, "not-found");

    let manual = json!({"title": "Manual", "phases": [{"title": "Only", "tasks": [{"title": "Call the breeders", "capability": "make_phone_call"}]}]});
    let replaced: Plan = api
        .call(
            Method::PUT,
            &format!("/api/plans/{plan}/decomposition"),
            Some(OPERATOR),
            Some(manual.clone()),
        )
        .await
        .parse(200);
    assert_eq!(
        (replaced.status, replaced.counts.leaves),
        (PlanStatus::Approved, 1)
    );
    let execution = api.execution(plan, larry.agent.id).await;
    api.until_status(execution, "BLOCKED").await;
    api.call(
        Method::PUT,
        &format!("/api/plans/{plan}/decomposition"),
        Some(OPERATOR),
        Some(manual),
    )
    .await
    .expect_problem(409, "conflict");
}

#[tokio::test]
async fn plans_list_and_unknown_plans() {
    let api = Api::start().await;
    let a = api.plan(&[0]).await;
    let b = api.plan(&[0]).await;
    let page = api.op_get("/api/plans?limit=1").await.expect(200).clone();
    assert_eq!(page["plans"][0]["id"], b.to_string());
    let cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
    let next = api
        .op_get(&format!("/api/plans?limit=1&cursor={cursor}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(next["plans"][0]["id"], a.to_string());
    api.op_get(&format!("/api/plans/{}", planexec_schemas::new_id()))
        .await
        .expect_problem(404, "not-found");
    api.op_post(
        &format!("/api/plans/{}/approve", planexec_schemas::new_id()),
        json!({}),
    )
    .await
    .expect_problem(404, "not-found");
}
