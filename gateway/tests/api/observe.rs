//! What operators observe: request ids, the admin figures after a known workload, webhook
//! subscriptions.

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{Api, OPERATOR};

#[tokio::test]
async fn a_request_id_is_echoed_or_made_and_problems_carry_it_as_their_instance() {
    let api = Api::start().await;
    let http = planexec_tls::client();
    let answer = http
        .get(format!("{}/api/executions", api.base))
        .bearer_auth(OPERATOR)
        .header("x-request-id", "req-test-0001")
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.headers()["x-request-id"], "req-test-0001");

    let made = http
        .get(format!("{}/healthz", api.base))
        .send()
        .await
        .expect("answer");
    let id = made.headers()["x-request-id"].to_str().expect("text");
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "a new request id is a UUID: {id}"
    );

    let missing = http
        .get(format!(
            "{}/api/executions/00000000-0000-7000-8000-000000000000",
            api.base
        ))
        .bearer_auth(OPERATOR)
        .header("x-request-id", "req-test-0002")
        .send()
        .await
        .expect("answer");
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["x-request-id"], "req-test-0002");
    let problem: Value = missing.json().await.expect("problem");
    assert_eq!(problem["instance"], "req-test-0002", "{problem}");
    assert_eq!(problem["type"], "https://planexec.dev/problems/not-found");

    // An unauthenticated call is a problem too, with its generated id.
    let refused = http
        .get(format!("{}/api/admin/metrics", api.base))
        .send()
        .await
        .expect("answer");
    let id = refused.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["instance"], id.as_str());
}

#[tokio::test]
async fn admin_metrics_count_a_known_workload_exactly() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let moe = api.register("moe", &["send_email"]).await;

    // larry completes both tasks of his execution and sends one report too many.
    let done = api.execution(api.plan(&[0, 0]).await, larry.agent.id).await;
    let first = api.work(&larry).await;
    api.report(&larry, &first, json!({"event_type": "task_started"}))
        .await
        .expect(202);
    let next = api
        .report(
            &larry,
            &first,
            json!({"event_type": "task_complete", "output": {}}),
        )
        .await
        .expect(200)
        .clone();
    let second = next["next"]["task"].clone();
    api.report(&larry, &second, json!({"event_type": "task_started"}))
        .await
        .expect(202);
    api.report(
        &larry,
        &second,
        json!({"event_type": "task_complete", "output": {}}),
    )
    .await
    .expect(200);
    api.until_status(done, "COMPLETED").await;
    let late = api
        .report(
            &larry,
            &first,
            json!({"event_type": "task_complete", "output": {}}),
        )
        .await;
    assert_eq!(late.body["disposition"], "rejected", "{late:?}");

    // moe fails his only task in a way no retry can help: the execution blocks.
    let blocked = api.execution(api.plan(&[0]).await, moe.agent.id).await;
    let task = api.work(&moe).await;
    api.report(&moe, &task, json!({"event_type": "task_started"}))
        .await
        .expect(202);
    api.report(
        &moe,
        &task,
        json!({"event_type": "task_failed", "error": "the mail server refuses us", "retryable": false}),
    )
    .await;
    api.until_status(blocked, "BLOCKED").await;

    // Known durations: the tasks took 10 s and 20 s, the execution a minute.
    sqlx::query(
        "UPDATE execution_tasks SET started_at = finished_at - make_interval(secs => 10 * position)
          WHERE execution_id = $1",
    )
    .bind(done)
    .execute(&api.pool)
    .await
    .expect("task durations");
    sqlx::query(
        "UPDATE executions SET started_at = finished_at - interval '60 seconds' WHERE id = $1",
    )
    .bind(done)
    .execute(&api.pool)
    .await
    .expect("execution duration");

    let m = api.op_get("/api/admin/metrics").await.expect(200).clone();
    let e = &m["executions"];
    assert_eq!(e["total"], 2, "{m:#}");
    assert_eq!(e["by_status"], json!({"BLOCKED": 1, "COMPLETED": 1}));
    assert_eq!(
        (e["finished"].clone(), e["success_rate"].clone()),
        (json!(1), json!(1.0))
    );
    let positions: Vec<i32> = sqlx::query_scalar(
        "SELECT position FROM execution_tasks WHERE execution_id = $1 ORDER BY position",
    )
    .bind(done)
    .fetch_all(&api.pool)
    .await
    .expect("positions");
    let secs: Vec<f64> = positions.iter().map(|p| 10.0 * f64::from(*p)).collect();
    let t = &m["durations"]["task_seconds"];
    assert_eq!(t["count"], 2, "{m:#}");
    let avg = (secs[0] + secs[1]) / 2.0;
    assert!((t["avg"].as_f64().expect("avg") - avg).abs() < 0.01, "{t}");
    assert!((t["p50"].as_f64().expect("p50") - avg).abs() < 0.01, "{t}");
    let p95 = secs[0] + 0.95 * (secs[1] - secs[0]);
    assert!((t["p95"].as_f64().expect("p95") - p95).abs() < 0.01, "{t}");
    let x = &m["durations"]["execution_seconds"];
    assert_eq!(
        (x["count"].clone(), x["avg"].clone(), x["p95"].clone()),
        (json!(1), json!(60.0), json!(60.0))
    );

    let errors = &m["errors"];
    assert_eq!(errors["task_failures"], 1, "{errors}");
    assert_eq!(errors["gave_up"], 1, "{errors}");
    assert_eq!(
        (errors["retries"].clone(), errors["timeouts"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(errors["dead_letters"], 0);
    let rejected: i64 = errors["rejected_events"]
        .as_object()
        .expect("by reason")
        .values()
        .filter_map(Value::as_i64)
        .sum();
    assert_eq!(rejected, 1, "{errors}");
    // Reports: larry 5 (two starts, two completes, the late one), moe 2.
    assert_eq!(errors["agent_events"], 7, "{errors}");
    // One failure among three finished attempts.
    assert!((errors["task_error_rate"].as_f64().expect("rate") - 1.0 / 3.0).abs() < 1e-9);

    let agents = &m["agents"];
    assert_eq!(
        (agents["total"].clone(), agents["busy"].clone()),
        (json!(2), json!(0)),
        "{agents}"
    );
    let per: Vec<(String, i64, i64)> = agents["per_agent"]
        .as_array()
        .expect("per agent")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or_default().to_owned(),
                a["completed"].as_i64().unwrap_or(-1),
                a["failed"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(per, [("larry".to_owned(), 2, 0), ("moe".to_owned(), 0, 1)]);

    let newest = &m["recent_errors"][0];
    assert_eq!(newest["execution_id"], json!(blocked), "{m:#}");
    assert!(
        m["recent_errors"]
            .as_array()
            .expect("errors")
            .iter()
            .any(|r| r["kind"] == "task_failed" && r["message"] == "the mail server refuses us"),
        "{m:#}"
    );

    // A window that starts after the workload holds nothing.
    let later = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let empty = api
        .op_get(&format!(
            "/api/admin/metrics?since={}",
            later.replace('+', "%2B")
        ))
        .await
        .expect(200)
        .clone();
    assert_eq!(empty["executions"]["total"], 0, "{empty:#}");
    assert_eq!(empty["executions"]["success_rate"], Value::Null);
    assert_eq!(empty["durations"]["task_seconds"]["count"], 0);
    let future = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    api.op_get(&format!("/api/admin/metrics?since={future}"))
        .await
        .expect_problem(422, "validation");
}

#[tokio::test]
async fn webhooks_are_created_with_a_secret_listed_without_it_and_deleted() {
    let api = Api::start().await;
    let created = api
        .op_post(
            "/api/webhooks",
            json!({"url": "http://127.0.0.1:9/hook", "events": ["execution.completed", "agent.offline"]}),
        )
        .await
        .expect(201)
        .clone();
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(
        created["secret"]
            .as_str()
            .expect("secret")
            .starts_with("whsec_")
    );
    assert_eq!(
        created["events"],
        json!(["execution.completed", "agent.offline"])
    );

    let list = api.op_get("/api/webhooks").await.expect(200).clone();
    assert_eq!(list["webhooks"].as_array().expect("list").len(), 1);
    assert!(list["webhooks"][0].get("secret").is_none(), "{list}");
    let deliveries = api.op_get(&format!("/api/webhooks/{id}/deliveries")).await;
    assert_eq!(deliveries.expect(200)["deliveries"], json!([]));

    for bad in [
        json!({"url": "ftp://example.com/hook", "events": ["execution.completed"]}),
        json!({"url": "http://127.0.0.1:9/hook", "events": []}),
    ] {
        api.op_post("/api/webhooks", bad)
            .await
            .expect_problem(422, "validation");
    }
    api.op_post(
        "/api/webhooks",
        json!({"url": "http://127.0.0.1:9/hook", "events": ["execution.exploded"]}),
    )
    .await
    .expect(422);
    api.post(
        "/api/webhooks",
        None,
        json!({"url": "http://x/", "events": ["agent.offline"]}),
    )
    .await
    .expect_problem(401, "unauthorized");

    let gone = api
        .call(
            Method::DELETE,
            &format!("/api/webhooks/{id}"),
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(gone.status, 204);
    api.call(
        Method::DELETE,
        &format!("/api/webhooks/{id}"),
        Some(OPERATOR),
        None,
    )
    .await
    .expect_problem(404, "not-found");
    api.op_get(&format!("/api/webhooks/{id}/deliveries"))
        .await
        .expect_problem(404, "not-found");
}
