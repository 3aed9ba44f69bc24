use planexec_schemas::api::ConductorTask;
use serde_json::json;

use super::support::Api;

/// Polls like a Conductor worker: again after each 204 (nothing right now), until a task comes.
/// A task appears on the queue just after its execution shows RUNNING (the dispatch is published
/// after the commit), and a task another poll put back is redelivered a moment later.
async fn poll_until_task(api: &Api, path: &str, token: &str) -> ConductorTask {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let answer = api.get(path, Some(token)).await;
        if answer.status.as_u16() != 204 {
            return answer.parse(200);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} answered 204 for 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_conductor_worker_polls_by_task_type_and_posts_results() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    api.until_status(id, "RUNNING").await;
    let poll = |task_type: &str| format!("/api/tasks/poll/{task_type}?workerid={}", larry.agent.id);
    assert_eq!(
        api.get(&poll("make_phone_call"), Some(&larry.token))
            .await
            .status
            .as_u16(),
        204,
        "another type is not handed out"
    );
    let task = poll_until_task(&api, &poll("send_email"), &larry.token).await;
    assert_eq!(
        (
            task.task_type.as_str(),
            task.retry_count,
            task.workflow_instance_id
        ),
        ("send_email", 0, id)
    );
    assert!(task.task_id.ends_with(".1"));

    // The worker id is free text (Conductor SDKs send the host name): the token says who polls.
    let other = api.register("other", &["send_email"]).await;
    let polled = api
        .get(
            "/api/tasks/poll/send_email?workerid=worker-host.example",
            Some(&other.token),
        )
        .await;
    assert_eq!(
        polled.status.as_u16(),
        204,
        "another agent's tasks are not its own"
    );
    let result = json!({"workflowInstanceId": id, "taskId": task.task_id, "status": "COMPLETED", "outputData": {"sent": 1},
                        "logs": [{"log": "sent one email"}], "workerId": "worker-host.example"});
    let answer = api.post("/api/tasks", Some(&larry.token), result).await;
    assert_eq!(
        answer.expect(200),
        &json!(task.task_id),
        "Conductor answers the task id as text"
    );
    assert!(answer.content_type.starts_with("text/plain"), "{answer:?}");
    let second = poll_until_task(&api, &poll("send_email"), &larry.token).await;
    let failed = json!({"workflowInstanceId": id, "taskId": second.task_id, "status": "FAILED_WITH_TERMINAL_ERROR",
                        "reasonForIncompletion": "mailbox gone"});
    api.post("/api/tasks", Some(&larry.token), failed)
        .await
        .expect(200);
    let blocked = api.until_status(id, "BLOCKED").await;
    assert_eq!(blocked["blocked_reason"], "task_failed");
    let bad = json!({"workflowInstanceId": id, "taskId": "nonsense", "status": "COMPLETED"});
    api.post("/api/tasks", Some(&larry.token), bad)
        .await
        .expect_problem(422, "validation");
    let bad_status =
        json!({"workflowInstanceId": id, "taskId": second.task_id, "status": "SCHEDULED"});
    api.post("/api/tasks", Some(&larry.token), bad_status)
        .await
        .expect_problem(422, "validation");
}

#[tokio::test]
async fn blank_log_lines_are_dropped_and_a_blank_failure_reason_gets_words() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    api.until_status(id, "RUNNING").await;
    let poll = format!("/api/tasks/poll/send_email?workerid={}", larry.agent.id);
    let task = poll_until_task(&api, &poll, &larry.token).await;
    let failed = json!({"workflowInstanceId": id, "taskId": task.task_id, "status": "FAILED",
                        "reasonForIncompletion": "  ", "workerId": "",
                        "logs": [{"log": ""}, {"log": "tried the mailbox"}, {"log": " "}]});
    let answer = api.post("/api/tasks", Some(&larry.token), failed).await;
    assert_eq!(answer.expect(200), &json!(task.task_id));
    let history = api.op_get(&format!("/api/executions/{id}/events")).await;
    let events = history.expect(200)["events"]
        .as_array()
        .expect("events")
        .clone();
    let of = |kind: &str| -> Vec<serde_json::Value> {
        events
            .iter()
            .filter(|e| e["event_type"] == kind)
            .map(|e| e["output"].clone())
            .collect()
    };
    let logs = of("log");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["message"], "tried the mailbox");
    assert_eq!(
        of("task_failed")[0]["error"],
        "the worker reported a failure"
    );
}

#[tokio::test]
async fn a_conductor_sdk_logs_in_with_its_key_pair_and_batch_polls() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let login = json!({"keyId": larry.agent.id, "keySecret": larry.token});
    let token = api.post("/api/token", None, login).await.expect(200)["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let wrong = json!({"keyId": uuid::Uuid::now_v7(), "keySecret": larry.token});
    api.post("/api/token", None, wrong)
        .await
        .expect_problem(401, "unauthorized");

    let plan = api.plan(&[0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    api.until_status(id, "RUNNING").await;
    let batch = |count: u32| {
        api.http
            .get(format!(
                "{}/api/tasks/poll/batch/send_email?workerid=host-1&count={count}&timeout=2000",
                api.base
            ))
            .header("X-Authorization", &token)
    };
    let tasks: Vec<ConductorTask> = batch(5)
        .send()
        .await
        .expect("polled")
        .json()
        .await
        .expect("a JSON list");
    assert!(!tasks.is_empty() && tasks.len() <= 2, "{tasks:?}");
    let first = &tasks[0];
    assert_eq!(
        (first.task_def_name.as_str(), first.poll_count),
        ("send_email", 1)
    );
    assert_eq!(first.worker_id, "host-1");

    // IN_PROGRESS with callbackAfterSeconds: offered again after the delay, pollCount 2.
    let later = json!({"workflowInstanceId": id, "taskId": first.task_id, "status": "IN_PROGRESS",
                       "callbackAfterSeconds": 1, "outputData": {"progress": 30}});
    let answer = api
        .post("/api/tasks/update-v2", Some(&larry.token), later)
        .await;
    assert_eq!(answer.status.as_u16(), 204, "{answer:?}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let again = loop {
        let polled: Vec<ConductorTask> = batch(1)
            .send()
            .await
            .expect("polled")
            .json()
            .await
            .expect("list");
        if let Some(task) = polled.into_iter().find(|t| t.task_id == first.task_id) {
            break task;
        }
        assert!(tokio::time::Instant::now() < deadline, "not offered again");
    };
    assert_eq!((again.poll_count, again.callback_after_seconds), (2, 1));

    let log = api
        .http
        .post(format!("{}/api/tasks/{}/log", api.base, first.task_id))
        .header("X-Authorization", &token)
        .json(&json!("checked the outbox"))
        .send()
        .await
        .expect("logged");
    assert_eq!(log.status().as_u16(), 200);
    let done = json!({"workflowInstanceId": id, "taskId": first.task_id, "status": "COMPLETED"});
    let answer = api
        .post("/api/tasks/update-v2", Some(&larry.token), done)
        .await;
    assert_eq!(answer.status.as_u16(), 204, "{answer:?}");
    let history = api
        .op_get(&format!("/api/executions/{id}/events?type=log"))
        .await;
    let logs = history.expect(200)["events"]
        .as_array()
        .expect("events")
        .clone();
    assert!(
        logs.iter()
            .any(|e| e["output"]["message"] == "checked the outbox"),
        "{logs:?}"
    );
}
