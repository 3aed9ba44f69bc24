use chrono::Utc;
use planexec_schemas::event::{Disposition, EventSource, EventType};
use planexec_schemas::{Id, new_id};
use planexec_store::events::{self, EventFilter, NewEvent};
use planexec_store::{agents, executions, plans};

use super::migrated;
use super::plans::prospecting;

pub(super) fn event(execution: Id, event_type: EventType, disposition: Disposition) -> NewEvent {
    NewEvent {
        id: new_id(),
        execution_id: execution,
        task_id: Some(new_id()),
        agent_id: None,
        attempt: Some(1),
        event_type,
        source: EventSource::Agent,
        disposition,
        reason: (disposition == Disposition::Rejected).then(|| "stale_attempt".to_owned()),
        timestamp: Utc::now(),
        output: serde_json::json!({}),
    }
}

pub(super) async fn an_execution(pool: &sqlx::PgPool) -> Id {
    let plan = plans::write::insert(pool, &prospecting())
        .await
        .expect("plan");
    let agent = new_id();
    agents::insert(
        pool,
        agent,
        "larry",
        "assistant",
        &["send_email".to_owned()],
        "h",
        None,
    )
    .await
    .expect("agent");
    executions::schedule::insert(
        pool,
        &executions::schedule::NewExecution {
            id: new_id(),
            plan_id: plan,
            agent_id: agent,
            max_parallel: 1,
            routing: Default::default(),
        },
    )
    .await
    .expect("execution")
    .expect("a new id")
    .id
}

#[tokio::test]
async fn an_event_is_recorded_once_whatever_the_number_of_deliveries() {
    let (_env, pool) = migrated().await;
    let execution = an_execution(&pool).await;
    let first = event(execution, EventType::TaskStarted, Disposition::Applied);
    let mut tx = pool.begin().await.expect("tx");
    assert!(
        events::seen(&mut tx, &[first.id])
            .await
            .expect("seen")
            .is_empty()
    );
    assert_eq!(
        events::insert(&mut tx, &[first.clone(), first.clone()])
            .await
            .expect("insert"),
        1
    );
    assert_eq!(
        events::insert(&mut tx, std::slice::from_ref(&first))
            .await
            .expect("again"),
        0
    );
    assert!(
        events::seen(&mut tx, &[first.id, new_id()])
            .await
            .expect("seen")
            .contains(&first.id)
    );
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn history_lists_newest_first_with_filters_offsets_and_a_cursor() {
    let (_env, pool) = migrated().await;
    let execution = an_execution(&pool).await;
    let mut batch = Vec::new();
    for i in 0..5 {
        let kind = if i % 2 == 0 {
            EventType::TaskComplete
        } else {
            EventType::TaskProgress
        };
        batch.push(event(execution, kind, Disposition::Applied));
    }
    batch.push(event(
        execution,
        EventType::TaskComplete,
        Disposition::Rejected,
    ));
    let mut tx = pool.begin().await.expect("tx");
    events::insert(&mut tx, &batch).await.expect("insert");
    tx.commit().await.expect("commit");

    let all = events::list(&pool, execution, &EventFilter::default(), 100, 0, None)
        .await
        .expect("list");
    let ids: Vec<Id> = all.iter().map(|e| e.id).collect();
    let mut expected: Vec<Id> = batch.iter().map(|e| e.id).collect();
    expected.reverse();
    assert_eq!(ids, expected, "newest first, in recording order");

    let completes = EventFilter {
        event_type: Some(EventType::TaskComplete),
        disposition: Some(Disposition::Applied),
        ..Default::default()
    };
    let page = events::list(&pool, execution, &completes, 100, 0, None)
        .await
        .expect("filtered");
    assert_eq!(page.len(), 3);
    assert!(
        page.iter()
            .all(|e| e.event_type == EventType::TaskComplete
                && e.disposition == Disposition::Applied)
    );
    let by_task = EventFilter {
        task_id: batch[1].task_id,
        ..Default::default()
    };
    assert_eq!(
        events::list(&pool, execution, &by_task, 100, 0, None)
            .await
            .expect("by task")
            .len(),
        1
    );

    let second_page = events::list(&pool, execution, &EventFilter::default(), 2, 2, None)
        .await
        .expect("offset");
    assert_eq!(
        second_page.iter().map(|e| e.id).collect::<Vec<_>>(),
        expected[2..4]
    );
    let after = events::list(
        &pool,
        execution,
        &EventFilter::default(),
        2,
        0,
        Some(all[1].seq),
    )
    .await
    .expect("cursor");
    assert_eq!(
        after.iter().map(|e| e.id).collect::<Vec<_>>(),
        expected[2..4]
    );
}

#[tokio::test]
async fn a_dead_letter_is_kept_once_per_stream_message() {
    let (_env, pool) = migrated().await;
    events::dead_letter(
        &pool,
        "planexec.events.x.y",
        Some(7),
        b"{not json",
        "expected value at line 1",
    )
    .await
    .expect("record");
    events::dead_letter(
        &pool,
        "planexec.events.x.y",
        Some(7),
        b"{not json",
        "expected value at line 1",
    )
    .await
    .expect("redelivery");
    let letters = events::dead_letters(&pool, 10).await.expect("list");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].raw, b"{not json");
    assert_eq!(letters[0].stream_sequence, Some(7));
}
