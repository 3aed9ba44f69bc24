use std::time::Duration;

use chrono::Utc;
use planexec_schemas::execution::{BlockedReason, ExecutionStatus, TaskStatus};
use planexec_schemas::{Id, new_id};
use planexec_store::executions;
use planexec_store::executions::engine::{ExecutionSave, NodeOutput, NodeSave, Published};
use planexec_store::executions::materialise::TaskDefaults;
use planexec_store::executions::schedule::NewExecution;
use planexec_store::{agents, plans};
use sqlx::PgPool;

use super::migrated;
use super::plans::prospecting;

/// A strict-order execution of `plan` by `agent`, not stored yet.
fn new_execution(plan: Id, agent: Id) -> NewExecution {
    NewExecution {
        id: new_id(),
        plan_id: plan,
        agent_id: agent,
        max_parallel: 1,
        routing: Default::default(),
    }
}

async fn execution_of_the_fixture(pool: &PgPool) -> (Id, Id, Id) {
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
    let new = new_execution(plan, agent);
    let row = executions::schedule::insert(pool, &new)
        .await
        .expect("execution")
        .expect("a new id");
    assert_eq!(row.status().expect("status"), ExecutionStatus::Created);
    let again = executions::schedule::insert(pool, &new)
        .await
        .expect("the same creation again");
    assert!(again.is_none(), "an id is created once: {again:?}");
    (row.id, plan, agent)
}

async fn materialised(pool: &PgPool) -> (Id, Id, Id) {
    let (execution, plan, agent) = execution_of_the_fixture(pool).await;
    let mut tx = pool.begin().await.expect("tx");
    executions::materialise::materialise(
        &mut tx,
        execution,
        plan,
        TaskDefaults {
            timeout_seconds: 60,
            max_attempts: 3,
        },
    )
    .await
    .expect("materialise");
    tx.commit().await.expect("commit");
    (execution, plan, agent)
}

#[tokio::test]
async fn materialising_copies_every_task_and_subtask_with_dependencies_and_is_idempotent() {
    let (_env, pool) = migrated().await;
    let (execution, plan, _) = execution_of_the_fixture(&pool).await;
    let decomposition = prospecting();
    let mut tx = pool.begin().await.expect("tx");
    let defaults = TaskDefaults {
        timeout_seconds: 60,
        max_attempts: 3,
    };
    let written = executions::materialise::materialise(&mut tx, execution, plan, defaults)
        .await
        .expect("materialise")
        .expect("materialised");
    assert_eq!(
        (written.tasks, written.leaves),
        (decomposition.counts.tasks, decomposition.counts.leaves)
    );
    let again = executions::materialise::materialise(&mut tx, execution, plan, defaults)
        .await
        .expect("again");
    assert_eq!(again, None, "materialising twice changes nothing");
    let nodes = executions::engine::load_nodes(&mut tx, &[execution])
        .await
        .expect("load")
        .remove(&execution)
        .expect("nodes");
    tx.commit().await.expect("commit");
    assert_eq!(
        written.nodes, nodes,
        "what materialising returns is what loading reads back"
    );

    let expected: Vec<String> = decomposition
        .leaves()
        .iter()
        .map(|(task, sub, _)| sub.map_or(&task.wbs, |s| &s.wbs).clone())
        .collect();
    let loaded: Vec<String> = nodes
        .iter()
        .filter(|n| n.is_leaf)
        .map(|n| n.wbs.clone())
        .collect();
    assert_eq!(loaded, expected, "leaves load in execution order");
    for node in nodes.iter().filter(|n| n.is_subtask) {
        let parent = nodes
            .iter()
            .position(|n| Some(n.id) == node.task_id)
            .expect("parent loaded");
        let me = nodes.iter().position(|n| n.id == node.id).expect("self");
        assert!(parent < me, "a subtask loads after its task");
    }
    let declared: usize = decomposition
        .phases
        .iter()
        .flat_map(|p| &p.tasks)
        .map(|t| t.depends_on.len())
        .sum();
    let copied: usize = nodes.iter().map(|n| n.depends_on.len()).sum();
    assert_eq!(copied, declared);
    assert!(
        nodes
            .iter()
            .all(|n| n.status().expect("status") == TaskStatus::Pending)
    );
}

#[tokio::test]
async fn saved_changes_read_back_and_bump_the_version() {
    let (_env, pool) = migrated().await;
    let (execution, _, agent) = materialised(&pool).await;
    let mut tx = pool.begin().await.expect("tx");
    let row = executions::engine::lock(&mut tx, &[execution])
        .await
        .expect("lock")
        .remove(0);
    let nodes = executions::engine::load_nodes(&mut tx, &[execution])
        .await
        .expect("load")
        .remove(&execution)
        .expect("nodes");
    let leaf = nodes.iter().find(|n| n.is_leaf).expect("a leaf").clone();
    let now = Utc::now();
    let save = NodeSave {
        table: leaf.table(),
        id: leaf.id,
        status: TaskStatus::Completed,
        attempt: 1,
        failures: 0,
        assigned_agent_id: Some(agent),
        progress: 100.0,
        lease_deadline: None,
        next_attempt_at: None,
        dispatched_at: Some(now),
        redispatched: true,
        published: false,
        started_at: Some(now),
        finished_at: Some(now),
    };
    let output = NodeOutput::Result {
        table: leaf.table(),
        id: leaf.id,
        value: serde_json::json!({"rows": 12}),
    };
    executions::engine::save_nodes(&mut tx, &[save], &[output])
        .await
        .expect("save nodes");
    let versions = executions::engine::save_executions(
        &mut tx,
        &[ExecutionSave {
            id: execution,
            agent_id: agent,
            status: ExecutionStatus::Blocked,
            progress: 3.5,
            current: None,
            blocked_reason: Some(BlockedReason::AgentOffline),
            blocked_detail: Some("agent gone".into()),
            leaves_total: 40,
            leaves_done: 1,
            next_wakeup_at: Some(now),
            started_at: Some(now),
            finished_at: None,
        }],
    )
    .await
    .expect("save execution");
    assert_eq!(versions[0].1, row.version + 1);
    tx.commit().await.expect("commit");

    let view = executions::read::get(&pool, execution)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (
            view.status,
            view.blocked_reason,
            view.progress,
            view.leaves_done
        ),
        (
            ExecutionStatus::Blocked,
            Some(BlockedReason::AgentOffline),
            3.5,
            1
        )
    );
    let tree = executions::read::tasks(&pool, execution)
        .await
        .expect("tasks");
    let done: Vec<_> = tree
        .iter()
        .flat_map(|t| {
            t.subtasks
                .iter()
                .map(|s| (s.id, s.status, s.result.clone()))
        })
        .chain(
            tree.iter()
                .filter(|t| t.is_leaf)
                .map(|t| (t.id, t.status, t.result.clone())),
        )
        .filter(|(id, _, _)| *id == leaf.id)
        .collect();
    assert_eq!(
        done,
        [(
            leaf.id,
            TaskStatus::Completed,
            Some(serde_json::json!({"rows": 12}))
        )]
    );
}

#[tokio::test]
async fn a_publish_confirmation_only_confirms_its_own_attempt() {
    let (_env, pool) = migrated().await;
    let (execution, _, _) = materialised(&pool).await;
    let mut conn = pool.acquire().await.expect("conn");
    let leaf = executions::engine::load_nodes(&mut conn, &[execution])
        .await
        .expect("load")
        .remove(&execution)
        .expect("nodes")
        .into_iter()
        .find(|n| n.is_leaf)
        .expect("leaf");
    sqlx::query(if leaf.is_subtask {
        "UPDATE execution_subtasks SET attempt = 2 WHERE id = $1"
    } else {
        "UPDATE execution_tasks SET attempt = 2 WHERE id = $1"
    })
    .bind(leaf.id)
    .execute(&pool)
    .await
    .expect("set attempt");
    let confirmation = |attempt| Published {
        table: leaf.table(),
        execution_id: execution,
        task_id: leaf.id,
        attempt,
    };
    let skipped = executions::engine::mark_published(&pool, &[confirmation(1)])
        .await
        .expect("confirm stale");
    assert!(skipped.is_empty());
    let published = |pool: PgPool| async move {
        let mut conn = pool.acquire().await.expect("conn");
        executions::engine::load_nodes(&mut conn, &[execution])
            .await
            .expect("load")
            .remove(&execution)
            .expect("nodes")
            .into_iter()
            .find(|n| n.id == leaf.id)
            .expect("leaf")
            .published_at
    };
    assert_eq!(published(pool.clone()).await, None);
    // While another transaction holds the execution, the confirmation waits for it.
    let mut holder = pool.begin().await.expect("tx");
    executions::engine::lock(&mut holder, &[execution])
        .await
        .expect("lock");
    let skipped = executions::engine::mark_published(&pool, &[confirmation(2)])
        .await
        .expect("confirm under a busy execution");
    assert_eq!(
        skipped,
        vec![confirmation(2)],
        "handed back, not waited for"
    );
    assert_eq!(published(pool.clone()).await, None);
    holder.rollback().await.expect("release");
    let skipped = executions::engine::mark_published(&pool, &[confirmation(2)])
        .await
        .expect("confirm");
    assert!(skipped.is_empty());
    assert!(published(pool.clone()).await.is_some());
}

#[tokio::test]
async fn executions_of_one_plan_materialise_together_and_once() {
    let (_env, pool) = migrated().await;
    let (done, plan, agent) = materialised(&pool).await;
    let mut fresh = Vec::new();
    for _ in 0..3 {
        let new = new_execution(plan, agent);
        executions::schedule::insert(&pool, &new)
            .await
            .expect("execution")
            .expect("a new id");
        fresh.push(new.id);
    }
    let mut starts: Vec<(Id, Id)> = fresh.iter().map(|id| (*id, plan)).collect();
    starts.push((done, plan));
    starts.push((fresh[0], plan));
    let mut tx = pool.begin().await.expect("tx");
    let defaults = TaskDefaults {
        timeout_seconds: 60,
        max_attempts: 3,
    };
    let written = executions::materialise::materialise_many(&mut tx, &starts, defaults)
        .await
        .expect("materialise");
    let mut started: Vec<Id> = written.keys().copied().collect();
    started.sort();
    let mut expected = fresh.clone();
    expected.sort();
    assert_eq!(started, expected, "the one materialised before is left out");
    let loaded = executions::engine::load_nodes(&mut tx, &fresh)
        .await
        .expect("load");
    tx.commit().await.expect("commit");
    let decomposition = prospecting();
    for id in &fresh {
        assert_eq!(
            written[id].nodes, loaded[id],
            "execution {id} reads back as written"
        );
        assert_eq!(written[id].tasks, decomposition.counts.tasks);
        let ids: std::collections::HashSet<Id> = written[id].nodes.iter().map(|n| n.id).collect();
        assert_eq!(
            ids.len(),
            written[id].nodes.len(),
            "every copy has ids of its own"
        );
    }
}

#[tokio::test]
async fn lockers_in_opposite_order_do_not_deadlock_and_the_scheduler_skips_busy_executions() {
    let (_env, pool) = migrated().await;
    let (a, _, _) = execution_of_the_fixture(&pool).await;
    let (b, _, _) = execution_of_the_fixture(&pool).await;
    let mut first = pool.begin().await.expect("tx");
    assert_eq!(
        executions::engine::lock(&mut first, &[a, b])
            .await
            .expect("lock")
            .len(),
        2
    );

    let mut skipper = pool.begin().await.expect("tx");
    assert!(
        executions::engine::lock_skip_locked(&mut skipper, &[b])
            .await
            .expect("skip")
            .is_empty(),
        "a busy execution is skipped"
    );
    skipper.rollback().await.expect("rollback");

    let other = pool.clone();
    let second = tokio::spawn(async move {
        let mut tx = other.begin().await.expect("tx");
        let locked = executions::engine::lock(&mut tx, &[b, a])
            .await
            .expect("no deadlock");
        tx.commit().await.expect("commit");
        locked.len()
    });
    tokio::time::sleep(Duration::from_millis(100)).await; // let the second locker queue up behind the first
    assert!(
        !second.is_finished(),
        "the second locker waits for the first"
    );
    first.commit().await.expect("commit");
    assert_eq!(second.await.expect("joined"), 2);
}

#[tokio::test]
async fn due_executions_are_those_whose_wakeup_has_come() {
    let (_env, pool) = migrated().await;
    let (fresh, _, _) = execution_of_the_fixture(&pool).await;
    let (later, _, _) = execution_of_the_fixture(&pool).await;
    sqlx::query("UPDATE executions SET next_wakeup_at = now() + interval '1 hour' WHERE id = $1")
        .bind(later)
        .execute(&pool)
        .await
        .expect("set");
    let due = executions::schedule::due(&pool, Utc::now() + chrono::Duration::seconds(1), 10)
        .await
        .expect("due");
    assert_eq!(
        due,
        [fresh],
        "a new execution is due at once (to materialise); the other is not"
    );
}

#[tokio::test]
async fn executions_list_newest_first_filtered_and_in_pages() {
    let (_env, pool) = migrated().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(execution_of_the_fixture(&pool).await.0);
    }
    sqlx::query("UPDATE executions SET status = 'PAUSED' WHERE id = $1")
        .bind(ids[1])
        .execute(&pool)
        .await
        .expect("pause");
    let all = executions::read::ListFilter::default();
    let (page, cursor) = executions::read::list(&pool, &all, 2, None)
        .await
        .expect("page 1");
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let (page, cursor) = executions::read::list(&pool, &all, 2, cursor)
        .await
        .expect("page 2");
    assert_eq!(
        (page.iter().map(|e| e.id).collect::<Vec<_>>(), cursor),
        (vec![ids[0]], None)
    );
    let paused = executions::read::ListFilter {
        status: Some(ExecutionStatus::Paused),
        ..Default::default()
    };
    let (page, _) = executions::read::list(&pool, &paused, 10, None)
        .await
        .expect("filtered");
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[1]]);
}

#[tokio::test]
async fn a_dispatch_confirmation_is_stored_with_the_next_save_and_kept() {
    let (_env, pool) = migrated().await;
    let (execution, _, agent) = materialised(&pool).await;
    let nodes =
        executions::engine::load_nodes(&mut pool.acquire().await.expect("conn"), &[execution])
            .await
            .expect("load")
            .remove(&execution)
            .expect("nodes");
    let leaf = nodes.iter().find(|n| n.is_leaf).expect("a leaf").clone();
    let now = Utc::now();
    let save = |redispatched: bool, published: bool| NodeSave {
        table: leaf.table(),
        id: leaf.id,
        status: TaskStatus::Dispatched,
        attempt: 1,
        failures: 0,
        assigned_agent_id: Some(agent),
        progress: 0.0,
        lease_deadline: None,
        next_attempt_at: None,
        dispatched_at: Some(now),
        redispatched,
        published,
        started_at: None,
        finished_at: None,
    };
    let published_at = || async {
        let mut conn = pool.acquire().await.expect("conn");
        executions::engine::load_nodes(&mut conn, &[execution])
            .await
            .expect("load")
            .remove(&execution)
            .expect("nodes")
            .into_iter()
            .find(|n| n.id == leaf.id)
            .expect("the leaf")
            .published_at
    };
    let mut conn = pool.acquire().await.expect("conn");
    executions::engine::save_nodes(&mut conn, &[save(true, false)], &[])
        .await
        .expect("dispatch");
    assert_eq!(published_at().await, None, "a new dispatch is unconfirmed");
    executions::engine::save_nodes(&mut conn, &[save(false, true)], &[])
        .await
        .expect("confirm");
    let confirmed = published_at()
        .await
        .expect("the next save stores the confirmation");
    executions::engine::save_nodes(&mut conn, &[save(false, true)], &[])
        .await
        .expect("save again");
    assert_eq!(
        published_at().await,
        Some(confirmed),
        "a stored confirmation is kept"
    );
}
