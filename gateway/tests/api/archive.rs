//! The archived history through the API: `GET /api/executions/{id}/events?archived=true`.

use std::time::Duration;

use planexec_coordinator::archival::{self, Archived, Pass};
use planexec_schemas::api::{EventList, ReportEventResponse};
use planexec_schemas::new_id;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::support::Api;

/// Every page of `path` (a query string already started) by the keyset cursor.
async fn pages(api: &Api, path: &str) -> Vec<EventList> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: EventList = api
            .op_get(&format!("{path}&cursor={cursor}"))
            .await
            .parse(200);
        let next = page.next_cursor.clone();
        out.push(page);
        match next {
            Some(next) => cursor = next,
            None => return out,
        }
    }
}

#[tokio::test]
async fn the_archived_history_is_read_with_archived_true_in_the_same_pages() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    let mut task = api.work(&larry).await;
    loop {
        api.report(&larry, &task, json!({"event_type": "task_started"}))
            .await
            .expect(202);
        let done: ReportEventResponse = api
            .report(&larry, &task, json!({"event_type": "task_complete"}))
            .await
            .parse(200);
        match done.next {
            planexec_schemas::api::NextStep::Task { task: next } => {
                task = serde_json::to_value(next).expect("json");
            }
            _ => break,
        }
    }
    api.until_status(id, "COMPLETED").await;
    let path = format!("/api/executions/{id}/events");
    let live = pages(&api, &format!("{path}?limit=3&disposition=all")).await;
    let total: usize = live.iter().map(|p| p.events.len()).sum();
    assert!(live.len() > 2, "several pages: {live:?}");
    let archived_before: EventList = api
        .op_get(&format!("{path}?archived=true"))
        .await
        .parse(200);
    assert!(archived_before.events.is_empty(), "nothing archived yet");

    let pass = Pass {
        cutoff: chrono::Utc::now(),
        batch: 2,
        pause: Duration::ZERO,
    };
    let done = archival::archive(&api.pool, &pass, &CancellationToken::new())
        .await
        .expect("archive");
    assert_eq!(
        done,
        Some(Archived {
            events: total as u64,
            executions: 1
        })
    );

    let now_live: EventList = api
        .op_get(&format!("{path}?disposition=all"))
        .await
        .parse(200);
    assert!(now_live.events.is_empty(), "{now_live:?}");
    let archived = pages(
        &api,
        &format!("{path}?limit=3&disposition=all&archived=true"),
    )
    .await;
    assert_eq!(archived, live, "same events, same pages, same cursors");
    let completes: EventList = api
        .op_get(&format!("{path}?archived=true&type=task_complete"))
        .await
        .parse(200);
    assert_eq!(completes.events.len(), 2);
    let execution = api.op_get(&format!("/api/executions/{id}")).await;
    assert!(
        execution.expect(200)["events_archived_at"].is_string(),
        "{execution:?}"
    );

    api.op_get(&format!("{path}?archived=perhaps"))
        .await
        .expect_problem(422, "validation");
    api.op_get(&format!(
        "/api/executions/{}/events?archived=true",
        new_id()
    ))
    .await
    .expect_problem(404, "not-found");
}
