use planexec_schemas::api::ConductorTask;
use serde_json::json;

use super::support::Api;

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
    let task: ConductorTask = api
        .get(&poll("send_email"), Some(&larry.token))
        .await
        .parse(200);
    assert_eq!(
        (
            task.task_type.as_str(),
            task.retry_count,
            task.workflow_instance_id
        ),
        ("send_email", 0, id)
    );
    assert!(task.task_id.ends_with(".1"));

    let other = api.register("other", &["send_email"]).await;
    api.get(
        &format!("/api/tasks/poll/send_email?workerid={}", larry.agent.id),
        Some(&other.token),
    )
    .await
    .expect_problem(403, "forbidden");
    let result = json!({"workflowInstanceId": id, "taskId": task.task_id, "status": "COMPLETED", "outputData": {"sent": 1},
                        "logs": [{"log": "sent one email"}], "workerId": larry.agent.id});
    let answer = api.post("/api/tasks", Some(&larry.token), result).await;
    assert_eq!(answer.expect(200)["disposition"], "applied");
    let second: ConductorTask = api
        .get(&poll("send_email"), Some(&larry.token))
        .await
        .parse(200);
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
