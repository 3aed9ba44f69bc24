use planexec_decompose::{Decomposition, decompose_plan};
use planexec_schemas::api::UpdatePlanTaskRequest;
use planexec_schemas::new_id;
use planexec_schemas::plan::{PlanSourceKind, PlanStatus};
use planexec_store::{Error, executions, plans};

use super::migrated;

pub fn prospecting() -> Decomposition {
    let path = planexec_harness::fixtures_dir().join("planexe/dog_breeder_prospecting");
    decompose_plan(&path).unwrap_or_else(|e| panic!("the prospecting fixture imports: {e}"))
}

#[tokio::test]
async fn a_stored_plan_reads_back_as_the_same_tree_in_wbs_order() {
    let (_env, pool) = migrated().await;
    let decomposition = prospecting();
    let id = plans::write::insert(&pool, &decomposition)
        .await
        .expect("insert");
    let plan = plans::read::get(&pool, id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(plan.title, decomposition.title);
    assert_eq!(plan.status, decomposition.status);
    assert_eq!(plan.source.kind, Some(PlanSourceKind::Planexe));
    assert_eq!(plan.counts, decomposition.counts);
    assert_eq!(plan.phases.len(), decomposition.phases.len());
    for (stored, original) in plan.phases.iter().zip(&decomposition.phases) {
        assert_eq!(
            (&stored.wbs, &stored.title),
            (&original.wbs, &original.title)
        );
        let stored_tasks: Vec<&str> = stored.tasks.iter().map(|t| t.wbs.as_str()).collect();
        let original_tasks: Vec<&str> = original.tasks.iter().map(|t| t.wbs.as_str()).collect();
        assert_eq!(stored_tasks, original_tasks);
        for (st, ot) in stored.tasks.iter().zip(&original.tasks) {
            assert_eq!(st.subtasks.len(), ot.subtasks.len());
            assert_eq!(
                st.depends_on.len(),
                ot.depends_on.len(),
                "dependencies of {}",
                ot.wbs
            );
            for (ss, os) in st.subtasks.iter().zip(&ot.subtasks) {
                assert_eq!(ss.capability, os.leaf.capability);
                assert_eq!(ss.planexe_id, os.planexe_id);
            }
        }
    }
}

#[tokio::test]
async fn a_plan_that_cannot_be_stored_leaves_nothing_behind() {
    let (_env, pool) = migrated().await;
    let mut broken = prospecting();
    broken.phases[0].tasks[0]
        .depends_on
        .push(planexec_decompose::Dependency {
            on_wbs: "9.9".into(),
            explanation: None,
        });
    let err = plans::write::insert(&pool, &broken)
        .await
        .expect_err("a dangling dependency was stored");
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    let count: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM plans) + (SELECT count(*) FROM plan_tasks)",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(count, 0, "half a plan was stored");
}

#[tokio::test]
async fn an_operator_edit_makes_the_leaf_certain_and_recomputes_the_plan_confidence() {
    let (_env, pool) = migrated().await;
    let mut low = prospecting();
    low.status = PlanStatus::NeedsReview;
    let id = plans::write::insert(&pool, &low).await.expect("insert");
    let before = plans::read::get(&pool, id)
        .await
        .expect("get")
        .expect("exists");
    let leaf = before.phases[0].tasks[0]
        .subtasks
        .first()
        .cloned()
        .expect("the first task has subtasks");
    let change = UpdatePlanTaskRequest {
        capability: Some("manage_csv".into()),
        params: Some(serde_json::json!({"file": "breeders.csv"})),
        timeout_seconds: Some(120),
        max_attempts: None,
    };
    plans::edit::update_leaf(&pool, id, &leaf.wbs, &change)
        .await
        .expect("update by WBS number");
    let after = plans::read::get(&pool, id)
        .await
        .expect("get")
        .expect("exists");
    let edited = after.phases[0].tasks[0].subtasks[0].clone();
    assert_eq!(edited.capability.capability, "manage_csv");
    assert_eq!(edited.capability.chosen_by, "operator");
    assert_eq!(edited.confidence, 1.0);
    assert_eq!(edited.params["file"], "breeders.csv");
    assert_eq!(edited.timeout_seconds, Some(120));
    assert!(after.confidence >= before.confidence);
    assert_eq!(
        after.status,
        PlanStatus::NeedsReview,
        "an edit is not an approval"
    );

    let parent = before.phases[0].tasks[0].wbs.clone();
    let err = plans::edit::update_leaf(&pool, id, &parent, &change)
        .await
        .expect_err("a task with subtasks was edited");
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    let err = plans::edit::update_leaf(&pool, id, "9.9.9", &change)
        .await
        .expect_err("an unknown task was edited");
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn a_decomposition_can_be_replaced_until_an_execution_starts_from_it() {
    let (_env, pool) = migrated().await;
    let id = plans::write::insert(&pool, &prospecting())
        .await
        .expect("insert");
    let mut manual = prospecting();
    manual.phases.truncate(1);
    plans::edit::replace(&pool, id, &manual)
        .await
        .expect("replace");
    let plan = plans::read::get(&pool, id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (plan.phases.len(), plan.status, plan.source.kind),
        (1, PlanStatus::Approved, Some(PlanSourceKind::Manual))
    );

    let agent = new_id();
    planexec_store::agents::insert(
        &pool,
        agent,
        "larry",
        "assistant",
        &["send_email".to_owned()],
        "h",
        None,
    )
    .await
    .expect("agent");
    let execution = executions::schedule::insert(
        &pool,
        &executions::schedule::NewExecution {
            id: new_id(),
            plan_id: id,
            agent_id: agent,
            max_parallel: 1,
            routing: Default::default(),
        },
    )
    .await
    .expect("execution")
    .expect("a new id");
    let mut tx = pool.begin().await.expect("tx");
    executions::materialise::materialise(
        &mut tx,
        execution.id,
        id,
        executions::materialise::TaskDefaults {
            timeout_seconds: 60,
            max_attempts: 3,
        },
    )
    .await
    .expect("materialise");
    tx.commit().await.expect("commit");
    let err = plans::edit::replace(&pool, id, &manual)
        .await
        .expect_err("replaced under a running execution");
    assert!(matches!(err, Error::Conflict(_)), "{err}");
}

#[tokio::test]
async fn plans_list_newest_first_in_pages() {
    let (_env, pool) = migrated().await;
    let plan = prospecting();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(plans::write::insert(&pool, &plan).await.expect("insert"));
    }
    let (first, cursor) = plans::read::list(&pool, 2, None).await.expect("page 1");
    assert_eq!(
        first.iter().map(|p| p.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    assert!(
        first.iter().all(|p| p.phases.is_empty()),
        "lists carry no trees"
    );
    let (second, cursor) = plans::read::list(&pool, 2, cursor).await.expect("page 2");
    assert_eq!(second.iter().map(|p| p.id).collect::<Vec<_>>(), [ids[0]]);
    assert_eq!(cursor, None);
}
