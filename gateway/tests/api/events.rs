use planexec_schemas::api::{EventList, NextStep, ReportEventResponse};
use planexec_schemas::event::Disposition;
use planexec_schemas::new_id;
use serde_json::json;

use super::support::Api;

#[tokio::test]
async fn reporting_events_answers_the_next_task_or_that_the_execution_is_complete() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    let first = api.work(&larry).await;
    let started: ReportEventResponse = api
        .report(&larry, &first, json!({"event_type": "task_started"}))
        .await
        .parse(202);
    assert_eq!(
        (started.disposition, started.next),
        (
            Disposition::Applied,
            NextStep::Poll {
                retry_after_seconds: 0
            }
        )
    );
    let progress = api.report(&larry, &first, json!({"event_type": "task_progress", "progress": 40, "message": "writing", "status": "drafting"})).await;
    progress.expect(202);

    let done: ReportEventResponse = api
        .report(
            &larry,
            &first,
            json!({"event_type": "task_complete", "output": {"sent": 3}}),
        )
        .await
        .parse(200);
    let NextStep::Task { task } = done.next else {
        panic!("no next task: {done:?}")
    };
    assert_eq!((task.wbs.as_str(), task.attempt), ("1.2", 1));
    let second = serde_json::to_value(&task).expect("json");
    let last: ReportEventResponse = api
        .report(
            &larry,
            &second,
            json!({"event_type": "task_complete", "output": {}}),
        )
        .await
        .parse(200);
    assert_eq!(last.next, NextStep::ExecutionComplete);
    assert_eq!(last.progress, 100.0);
    api.until_status(id, "COMPLETED").await;
}

#[tokio::test]
async fn a_re_sent_event_is_accepted_idempotently() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    let first = api.work(&larry).await;
    let event_id = new_id();
    let body = json!({"event_id": event_id, "event_type": "task_complete", "output": {"n": 1}});
    let once: ReportEventResponse = api.report(&larry, &first, body.clone()).await.parse(200);
    assert_eq!(once.disposition, Disposition::Applied);
    // The answer to the copy hands back the task the first answer carried (its agent never
    // reported on it, as if that answer had been lost).
    let twice: ReportEventResponse = api.report(&larry, &first, body).await.parse(200);
    assert_eq!(
        (twice.disposition, twice.event_id),
        (Disposition::Duplicate, event_id)
    );
    assert_eq!(twice.next, once.next, "{twice:?}");
    let history: EventList = api
        .op_get(&format!("/api/executions/{id}/events?type=task_complete"))
        .await
        .parse(200);
    assert_eq!(history.events.len(), 1);
}

#[tokio::test]
async fn an_agent_may_report_only_on_its_own_tasks_with_valid_events() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let mallory = api.register("mallory", &["send_email"]).await;
    let plan = api.plan(&[0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    let task = api.work(&larry).await;
    api.report(&mallory, &task, json!({"event_type": "task_complete"}))
        .await
        .expect_problem(403, "forbidden");
    let path = format!("/api/executions/{id}/events");
    api.post(
        &path,
        Some(super::support::OPERATOR),
        json!({"task_id": task["task_id"], "attempt": 1, "event_type": "task_started"}),
    )
    .await
    .expect_problem(403, "forbidden");
    api.post(&path, None, json!({}))
        .await
        .expect_problem(401, "unauthorized");
    let unknown = json!({"task_id": new_id(), "attempt": 1, "event_type": "task_started"});
    api.post(&path, Some(&larry.token), unknown)
        .await
        .expect_problem(404, "not-found");
    let problem = api
        .report(
            &larry,
            &task,
            json!({"event_type": "task_progress", "progress": 250}),
        )
        .await
        .expect_problem(422, "validation");
    assert_eq!(problem.errors.expect("errors")[0].field, "progress");
    api.report(&larry, &task, json!({"event_type": "task_teleported"}))
        .await
        .expect_problem(422, "validation");
    api.report(
        &larry,
        &task,
        json!({"event_type": "task_failed", "error": ""}),
    )
    .await
    .expect_problem(422, "validation");
    api.post(
        &path,
        Some(&larry.token),
        json!({"task_id": task["task_id"], "attempt": "one", "event_type": "log"}),
    )
    .await
    .expect_problem(422, "validation");
    let stale = api
        .report(
            &larry,
            &json!({"task_id": task["task_id"], "attempt": 7, "execution_id": id}),
            json!({"event_type": "task_started"}),
        )
        .await;
    let stale: ReportEventResponse = stale.parse(202);
    assert_eq!(stale.disposition, Disposition::Rejected);
    assert!(
        stale
            .reason
            .is_some_and(|r| r.starts_with("unknown_attempt"))
    );
}

#[tokio::test]
async fn the_history_lists_newest_first_with_filters_offsets_and_a_cursor() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    let mut task = api.work(&larry).await;
    let mut leaves = Vec::new();
    for _ in 0..3 {
        leaves.push(task["task_id"].clone());
        api.report(&larry, &task, json!({"event_type": "task_started"}))
            .await
            .expect(202);
        let done: ReportEventResponse = api
            .report(&larry, &task, json!({"event_type": "task_complete"}))
            .await
            .parse(200);
        match done.next {
            NextStep::Task { task: next } => task = serde_json::to_value(next).expect("json"),
            _ => break,
        }
    }
    api.report(
        &larry,
        &json!({"task_id": leaves[0], "attempt": 1, "execution_id": id}),
        json!({"event_type": "task_complete"}),
    )
    .await;
    let path = format!("/api/executions/{id}/events");
    let all: EventList = api.op_get(&path).await.parse(200);
    let seqs: Vec<i64> = all.events.iter().map(|e| e.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    assert!(
        all.events
            .iter()
            .all(|e| e.disposition == Disposition::Applied),
        "applied by default"
    );

    let completes: EventList = api
        .op_get(&format!("{path}?type=task_complete"))
        .await
        .parse(200);
    assert_eq!(completes.events.len(), 3);
    let with_rejected: EventList = api
        .op_get(&format!("{path}?type=task_complete&disposition=all"))
        .await
        .parse(200);
    assert_eq!(with_rejected.events.len(), 4);
    let rejected: EventList = api
        .op_get(&format!("{path}?disposition=rejected"))
        .await
        .parse(200);
    assert_eq!(rejected.events.len(), 1);
    let by_task: EventList = api
        .op_get(&format!(
            "{path}?task_id={}",
            leaves[1].as_str().expect("id")
        ))
        .await
        .parse(200);
    assert!(by_task.events.iter().all(
        |e| Some(e.task_id.expect("task").to_string()) == leaves[1].as_str().map(str::to_owned)
    ));

    let page: EventList = api
        .op_get(&format!("{path}?limit=2&offset=2"))
        .await
        .parse(200);
    assert_eq!(
        page.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        all.events[2..4].iter().map(|e| e.id).collect::<Vec<_>>()
    );
    let first: EventList = api.op_get(&format!("{path}?limit=2")).await.parse(200);
    let cursor = first.next_cursor.expect("more");
    let next: EventList = api
        .op_get(&format!("{path}?limit=2&cursor={cursor}"))
        .await
        .parse(200);
    assert_eq!(
        next.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        all.events[2..4].iter().map(|e| e.id).collect::<Vec<_>>()
    );

    api.op_get(&format!("{path}?type=task_exploded"))
        .await
        .expect_problem(422, "validation");
    api.op_get(&format!("{path}?limit=5000"))
        .await
        .expect_problem(422, "validation");
    api.op_get(&format!("{path}?cursor=abc"))
        .await
        .expect_problem(422, "validation");
}
