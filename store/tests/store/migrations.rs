use planexec_harness::TestEnv;

async fn tables(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("list tables")
}

#[tokio::test]
async fn migrations_upgrade_downgrade_and_upgrade_again_on_a_clean_database() {
    let env = TestEnv::start().await;
    let pool = env.pool().await;
    assert!(
        tables(&pool).await.is_empty(),
        "the test database starts empty"
    );

    planexec_store::migrate(&pool).await.expect("first upgrade");
    let after_up = tables(&pool).await;
    assert_eq!(
        after_up,
        [
            "agents",
            "dead_letters",
            "execution_events",
            "execution_events_archive",
            "execution_subtasks",
            "execution_tasks",
            "executions",
            "installation",
            "nats_revocations",
            "plan_subtasks",
            "plan_task_dependencies",
            "plan_tasks",
            "plans",
            "webhook_deliveries",
            "webhooks"
        ]
    );
    let versions = planexec_store::applied_migrations(&pool)
        .await
        .expect("versions");
    assert_eq!(
        versions.len(),
        planexec_store::MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .count()
    );

    planexec_store::migrate_down(&pool, 0)
        .await
        .expect("downgrade to nothing");
    assert!(
        tables(&pool).await.is_empty(),
        "down scripts leave tables behind: {:?}",
        tables(&pool).await
    );
    assert!(
        planexec_store::applied_migrations(&pool)
            .await
            .expect("versions")
            .is_empty()
    );

    planexec_store::migrate(&pool)
        .await
        .expect("second upgrade");
    assert_eq!(tables(&pool).await, after_up);
}

#[tokio::test]
async fn every_migration_is_reversible_one_step_at_a_time() {
    let env = TestEnv::start().await;
    let pool = env.pool().await;
    planexec_store::migrate(&pool).await.expect("upgrade");
    let mut versions = planexec_store::applied_migrations(&pool)
        .await
        .expect("versions");
    while let Some(newest) = versions.pop() {
        let target = versions.last().copied().unwrap_or(0);
        planexec_store::migrate_down(&pool, target)
            .await
            .unwrap_or_else(|e| panic!("reverting {newest}: {e}"));
        assert_eq!(
            planexec_store::applied_migrations(&pool)
                .await
                .expect("versions"),
            versions
        );
    }
    assert!(tables(&pool).await.is_empty());
}
