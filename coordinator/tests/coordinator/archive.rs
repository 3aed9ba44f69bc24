//! The coordinator's archival of the history: on its schedule, one at a time, never touching a
//! running execution, and still recognising an archived event that comes again.

use std::time::Duration;

use chrono::Utc;
use planexec_coordinator::archival::{self, ArchivalOptions, Archived, Pass};
use planexec_schemas::event::{AgentEvent, AgentEventBody, Disposition, EventType, ExecutionEvent};
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::{Id, new_id};
use planexec_store::archive;
use planexec_store::events::EventFilter;
use tokio_util::sync::CancellationToken;

use super::support::Stack;

async fn archived(stack: &Stack, id: Id) -> Vec<ExecutionEvent> {
    let mut events = archive::list(&stack.pool, id, &EventFilter::default(), 10_000, 0, None)
        .await
        .expect("archived history");
    events.reverse();
    events
}

#[tokio::test]
async fn scheduled_archive_moves_an_ended_execution_and_never_a_running_one() {
    let stack = Stack::wrap(
        planexec_test_stack::Stack::with_options(|o| {
            o.archival = Some(ArchivalOptions {
                // Everything that has ended is old enough.
                retention: Duration::ZERO,
                interval: Duration::from_millis(100),
                batch: 2,
                pause: Duration::from_millis(5),
            });
        })
        .await,
    );
    let plan = stack.plan(&[0, 0], &[]).await;
    let larry = stack.agent("larry").await;
    let moe = stack.agent("moe").await;
    let done = stack.execute(plan, larry.id).await.id;
    let running = stack.execute(plan, moe.id).await.id;
    let mut last = None;
    for _ in 0..2 {
        let task = larry.task().await;
        larry.start_and_complete(&task).await;
        last = Some(task);
    }
    let held = moe.task().await;
    moe.publish(&moe.event(&held, AgentEventBody::TaskStarted {}))
        .await;
    stack.until_agent_events(running, 1).await;
    stack.until_status(done, ExecutionStatus::Completed).await;

    let archived_row = stack
        .until(done, "archived", |e| e.events_archived_at.is_some())
        .await;
    let moved = archived(&stack, done).await;
    assert!(stack.events(done).await.is_empty(), "nothing left live");
    let count = |kind: EventType| moved.iter().filter(|e| e.event_type == kind).count();
    assert_eq!(
        (
            count(EventType::ExecutionCreated),
            count(EventType::TaskStarted),
            count(EventType::TaskComplete)
        ),
        (1, 2, 2),
        "the whole history moved: {moved:#?}"
    );
    assert!(moved.iter().all(|e| e.execution_id == done));
    assert!(moved.windows(2).all(|w| w[0].seq < w[1].seq), "in order");

    let still = stack.execution(running).await;
    assert_eq!(still.status, ExecutionStatus::Running);
    assert!(still.events_archived_at.is_none());
    assert!(
        archived(&stack, running).await.is_empty(),
        "a running execution is never archived"
    );
    assert!(!stack.events(running).await.is_empty());

    // The last report of the archived execution comes again (same event id, new message id),
    // then a new one: the first is known (in the archive), the second is refused and recorded.
    let task = last.expect("a task");
    let complete = moved
        .iter()
        .rev()
        .find(|e| e.task_id == Some(task.task_id) && e.event_type == EventType::TaskComplete)
        .expect("the last completion");
    let again = AgentEvent {
        event_id: complete.id,
        ..larry.event(
            &task,
            AgentEventBody::TaskComplete {
                output: serde_json::json!({}),
            },
        )
    };
    let payload = serde_json::to_vec(&again).expect("json");
    larry
        .publish_raw(
            &stack.ns.events_subject(larry.id, done),
            &new_id().to_string(),
            payload,
        )
        .await;
    let late = larry.event(&task, AgentEventBody::TaskStarted {});
    larry.publish(&late).await;
    let live = stack.until_agent_events(done, 1).await;
    assert_eq!(live.len(), 1, "the re-sent event was dropped: {live:?}");
    assert_eq!(
        (live[0].id, live[0].disposition),
        (late.event_id, Disposition::Rejected)
    );
    assert_eq!(
        stack.execution(done).await.events_archived_at,
        archived_row.events_archived_at
    );
}

#[tokio::test]
async fn an_archive_waits_its_turn_while_another_holds_the_lock() {
    let stack = Stack::new().await;
    let pass = Pass {
        cutoff: Utc::now(),
        batch: 100,
        pause: Duration::ZERO,
    };
    let shutdown = CancellationToken::new();
    let mut other = stack.pool.acquire().await.expect("connection");
    assert!(archive::try_lock(&mut other).await.expect("lock"));
    assert_eq!(
        archival::archive(&stack.pool, &pass, &shutdown)
            .await
            .expect("archive"),
        None,
        "another archival runs"
    );
    archive::unlock(&mut other).await.expect("unlock");
    assert_eq!(
        archival::archive(&stack.pool, &pass, &shutdown)
            .await
            .expect("archive"),
        Some(Archived::default())
    );
}
