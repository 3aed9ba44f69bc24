//! The archive of the history: what moves, what never does, and reading it back.

use chrono::{Duration, Utc};
use planexec_schemas::event::{Disposition, EventType, ExecutionEvent};
use planexec_schemas::{Id, Timestamp, new_id};
use planexec_store::archive::{self, Remaining};
use planexec_store::events::{self, EventFilter, NewEvent};
use sqlx::PgPool;

use super::events::{an_execution, event};
use super::migrated;

/// An execution with `n` events of mixed types and dispositions, then put in `status` (ended
/// `ended_days_ago` days ago when given).
async fn with_history(pool: &PgPool, n: usize, status: &str, ended_days_ago: Option<i64>) -> Id {
    let execution = an_execution(pool).await;
    let task = Some(new_id());
    let batch: Vec<NewEvent> = (0..n)
        .map(|i| {
            let kind = [
                EventType::TaskStarted,
                EventType::TaskProgress,
                EventType::TaskComplete,
            ][i % 3];
            let disposition = if i % 5 == 4 {
                Disposition::Rejected
            } else {
                Disposition::Applied
            };
            NewEvent {
                task_id: if i % 2 == 0 { task } else { Some(new_id()) },
                ..event(execution, kind, disposition)
            }
        })
        .collect();
    let mut conn = pool.acquire().await.expect("connection");
    events::insert(&mut conn, &batch).await.expect("events");
    sqlx::query(
        "UPDATE executions SET status = $2, finished_at = now() - make_interval(days => $3::int)
          WHERE id = $1",
    )
    .bind(execution)
    .bind(status)
    .bind(ended_days_ago.map(|d| d as i32))
    .execute(pool)
    .await
    .expect("status");
    execution
}

fn cutoff() -> Timestamp {
    Utc::now() - Duration::days(30)
}

/// Everything the store's archival does in one run, as the coordinator's loop does it.
async fn archive_all(pool: &PgPool, batch: u32) -> (u64, u64) {
    let (mut events, mut executions) = (0, 0);
    loop {
        let group = archive::candidates(pool, cutoff(), 2)
            .await
            .expect("candidates");
        if group.is_empty() {
            return (events, executions);
        }
        loop {
            let moved = archive::move_batch(pool, &group, cutoff(), batch)
                .await
                .expect("move")
                .events;
            events += moved;
            if moved < u64::from(batch) {
                break;
            }
        }
        executions += archive::mark_archived(pool, &group).await.expect("mark");
    }
}

async fn live_count(pool: &PgPool, execution: Id) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM execution_events WHERE execution_id = $1")
        .bind(execution)
        .fetch_one(pool)
        .await
        .expect("count")
}

async fn archived_at(pool: &PgPool, execution: Id) -> Option<Timestamp> {
    sqlx::query_scalar("SELECT events_archived_at FROM executions WHERE id = $1")
        .bind(execution)
        .fetch_one(pool)
        .await
        .expect("row")
}

/// Every page of `size` by the keyset cursor, as the API pages: each page with the cursor it
/// was read after.
async fn pages(
    pool: &PgPool,
    execution: Id,
    filter: &EventFilter,
    size: u32,
    archived: bool,
) -> Vec<(Option<i64>, Vec<ExecutionEvent>)> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = if archived {
            archive::list(pool, execution, filter, size, 0, cursor).await
        } else {
            events::list(pool, execution, filter, size, 0, cursor).await
        }
        .expect("page");
        let next = (page.len() == size as usize)
            .then(|| page.last().map(|e| e.seq))
            .flatten();
        out.push((cursor, page));
        match next {
            Some(seq) => cursor = Some(seq),
            None => return out,
        }
    }
}

#[tokio::test]
async fn archive_moves_only_the_events_of_executions_that_ended_before_the_cutoff() {
    let (_env, pool) = migrated().await;
    let completed = with_history(&pool, 7, "COMPLETED", Some(40)).await;
    let failed = with_history(&pool, 3, "FAILED", Some(31)).await;
    let cancelled_recently = with_history(&pool, 4, "CANCELLED", Some(2)).await;
    let running = with_history(&pool, 5, "RUNNING", None).await;
    // Never happens (a running execution has no end), but the move checks the status itself.
    let running_with_an_old_end = with_history(&pool, 2, "RUNNING", Some(90)).await;

    assert_eq!(
        archive::remaining(&pool, cutoff())
            .await
            .expect("remaining"),
        Remaining {
            executions: 2,
            events: 10
        }
    );
    assert_eq!(archive_all(&pool, 3).await, (10, 2));

    for (execution, live) in [
        (completed, 0),
        (failed, 0),
        (cancelled_recently, 4),
        (running, 5),
        (running_with_an_old_end, 2),
    ] {
        assert_eq!(live_count(&pool, execution).await, live, "{execution}");
    }
    assert!(archived_at(&pool, completed).await.is_some());
    assert!(archived_at(&pool, failed).await.is_some());
    assert!(archived_at(&pool, cancelled_recently).await.is_none());
    assert!(archived_at(&pool, running).await.is_none());
    assert_eq!(
        archive::remaining(&pool, cutoff())
            .await
            .expect("remaining"),
        Remaining::default()
    );
}

#[tokio::test]
async fn archive_never_moves_an_event_of_a_running_execution_even_when_asked() {
    let (_env, pool) = migrated().await;
    let running = with_history(&pool, 5, "RUNNING", None).await;
    let paused = with_history(&pool, 5, "PAUSED", Some(60)).await;
    let moved = archive::move_batch(&pool, &[running, paused], cutoff(), 100)
        .await
        .expect("move");
    assert_eq!(moved, archive::Moved::default());
    assert_eq!(live_count(&pool, running).await, 5);
    assert_eq!(live_count(&pool, paused).await, 5);
    // With live events left, an execution is not marked archived either.
    sqlx::query("UPDATE executions SET status = 'COMPLETED' WHERE id = $1")
        .bind(paused)
        .execute(&pool)
        .await
        .expect("ended");
    assert_eq!(
        archive::mark_archived(&pool, &[paused])
            .await
            .expect("mark"),
        0
    );
    assert!(archived_at(&pool, paused).await.is_none());
}

#[tokio::test]
async fn archive_is_idempotent() {
    let (_env, pool) = migrated().await;
    let completed = with_history(&pool, 9, "COMPLETED", Some(45)).await;
    assert_eq!(archive_all(&pool, 4).await, (9, 1));
    let first = archived_at(&pool, completed).await;
    assert_eq!(archive_all(&pool, 4).await, (0, 0), "nothing moves twice");
    assert_eq!(
        archive::move_batch(&pool, &[completed], cutoff(), 100)
            .await
            .expect("again")
            .events,
        0
    );
    assert_eq!(
        archive::mark_archived(&pool, &[completed])
            .await
            .expect("mark"),
        0
    );
    assert_eq!(archived_at(&pool, completed).await, first);
    let archived = archive::list(&pool, completed, &EventFilter::default(), 100, 0, None)
        .await
        .expect("archived");
    assert_eq!(archived.len(), 9, "every event once in the archive");
}

#[tokio::test]
async fn the_archive_lists_like_the_live_history_with_the_same_pages_and_cursors() {
    let (_env, pool) = migrated().await;
    let execution = with_history(&pool, 23, "COMPLETED", Some(40)).await;
    let task = sqlx::query_scalar::<_, Option<Id>>(
        "SELECT task_id FROM execution_events WHERE execution_id = $1 ORDER BY seq LIMIT 1",
    )
    .bind(execution)
    .fetch_one(&pool)
    .await
    .expect("a task");
    let filters = [
        EventFilter::default(),
        EventFilter {
            disposition: Some(Disposition::Applied),
            ..Default::default()
        },
        EventFilter {
            event_type: Some(EventType::TaskProgress),
            ..Default::default()
        },
        EventFilter {
            task_id: task,
            disposition: Some(Disposition::Rejected),
            ..Default::default()
        },
    ];
    let mut before = Vec::new();
    for filter in &filters {
        before.push(pages(&pool, execution, filter, 4, false).await);
    }
    let offset_page = events::list(&pool, execution, &EventFilter::default(), 5, 7, None)
        .await
        .expect("offset");

    assert_eq!(archive_all(&pool, 5).await, (23, 1));

    for (filter, live) in filters.iter().zip(&before) {
        assert!(
            events::list(&pool, execution, filter, 100, 0, None)
                .await
                .expect("live")
                .is_empty(),
            "the live history no longer shows them"
        );
        let archived = pages(&pool, execution, filter, 4, true).await;
        assert_eq!(&archived, live, "{filter:?}");
    }
    assert_eq!(before[0].iter().map(|(_, p)| p.len()).sum::<usize>(), 23);
    assert_eq!(
        archive::list(&pool, execution, &EventFilter::default(), 5, 7, None)
            .await
            .expect("offset"),
        offset_page
    );
}

#[tokio::test]
async fn an_archived_event_id_is_still_known() {
    let (_env, pool) = migrated().await;
    let execution = with_history(&pool, 3, "CANCELLED", Some(40)).await;
    let ids: Vec<Id> = events::list(&pool, execution, &EventFilter::default(), 10, 0, None)
        .await
        .expect("live")
        .iter()
        .map(|e| e.id)
        .collect();
    archive_all(&pool, 10).await;
    let mut conn = pool.acquire().await.expect("connection");
    let unknown = new_id();
    let seen = archive::seen(&mut conn, &[execution], &[ids[0], unknown])
        .await
        .expect("seen");
    assert!(seen.contains(&ids[0]) && !seen.contains(&unknown));
    assert!(
        events::seen(&mut conn, &ids)
            .await
            .expect("live")
            .is_empty(),
        "gone from the live table"
    );
}

#[tokio::test]
async fn only_one_session_holds_the_archive_lock() {
    let (_env, pool) = migrated().await;
    let mut first = pool.acquire().await.expect("first");
    let mut second = pool.acquire().await.expect("second");
    assert!(archive::try_lock(&mut first).await.expect("lock"));
    assert!(!archive::try_lock(&mut second).await.expect("busy"));
    archive::unlock(&mut first).await.expect("unlock");
    assert!(archive::try_lock(&mut second).await.expect("free again"));
    archive::unlock(&mut second).await.expect("unlock");
}

#[tokio::test]
async fn reverting_the_archive_migration_puts_archived_events_back() {
    let (_env, pool) = migrated().await;
    let execution = with_history(&pool, 6, "COMPLETED", Some(40)).await;
    let live = events::list(&pool, execution, &EventFilter::default(), 100, 0, None)
        .await
        .expect("live");
    archive_all(&pool, 4).await;
    let versions = planexec_store::applied_migrations(&pool)
        .await
        .expect("versions");
    let archive_version = 20261203100000;
    let before_archive = versions
        .iter()
        .copied()
        .filter(|v| *v < archive_version)
        .max()
        .expect("older migrations");
    planexec_store::migrate_down(&pool, before_archive)
        .await
        .expect("down");
    let back: Vec<ExecutionEvent> =
        events::list(&pool, execution, &EventFilter::default(), 100, 0, None)
            .await
            .expect("back");
    assert_eq!(back, live, "same events, same seq");
    planexec_store::migrate(&pool).await.expect("up again");
}

#[tokio::test]
async fn an_archive_move_takes_executions_in_id_order_and_says_where_it_stopped() {
    let (_env, pool) = migrated().await;
    let mut ids = vec![
        with_history(&pool, 3, "COMPLETED", Some(40)).await,
        with_history(&pool, 3, "FAILED", Some(40)).await,
    ];
    ids.sort_unstable();
    let first = archive::move_batch(&pool, &ids, cutoff(), 4)
        .await
        .expect("move");
    assert_eq!(
        first,
        archive::Moved {
            events: 4,
            last: Some(ids[1])
        },
        "all of the first execution, one of the second"
    );
    assert_eq!(live_count(&pool, ids[0]).await, 0);
    let rest = archive::move_batch(&pool, &ids[1..], cutoff(), 4)
        .await
        .expect("the rest");
    assert_eq!(rest.events, 2);
    assert_eq!(live_count(&pool, ids[1]).await, 0);
}
