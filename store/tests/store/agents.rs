use chrono::{Duration, Utc};
use planexec_schemas::agent::AgentStatus;
use planexec_schemas::new_id;
use planexec_store::agents;

use super::migrated;

#[tokio::test]
async fn a_registered_agent_is_online_and_keeps_only_its_token_hash() {
    let (_env, pool) = migrated().await;
    let id = new_id();
    let caps = vec!["send_email".to_owned(), "make_phone_call".to_owned()];
    let agent = agents::insert(&pool, id, "larry", "assistant", &caps, "abc123", None)
        .await
        .expect("insert");
    assert_eq!(
        (agent.id, agent.status, agent.capabilities.clone()),
        (id, AgentStatus::Online, caps)
    );
    assert!(agent.last_heartbeat.is_some());
    assert_eq!(agents::get(&pool, id).await.expect("get"), Some(agent));
    assert_eq!(
        agents::token_hash(&pool, id)
            .await
            .expect("hash")
            .as_deref(),
        Some("abc123")
    );
    assert_eq!(agents::get(&pool, new_id()).await.expect("get"), None);
}

#[tokio::test]
async fn an_agent_without_capabilities_is_refused_by_the_database() {
    let (_env, pool) = migrated().await;
    let err = agents::insert(&pool, new_id(), "x", "assistant", &[], "h", None)
        .await
        .expect_err("accepted");
    assert!(
        err.to_string().contains("agents_capabilities_check"),
        "{err}"
    );
}

#[tokio::test]
async fn silent_agents_are_swept_offline_and_come_back_with_a_sign_of_life() {
    let (_env, pool) = migrated().await;
    let (quiet, chatty) = (new_id(), new_id());
    let caps = vec!["send_email".to_owned()];
    agents::insert(&pool, quiet, "quiet", "assistant", &caps, "h", None)
        .await
        .expect("insert");
    agents::insert(&pool, chatty, "chatty", "assistant", &caps, "h", None)
        .await
        .expect("insert");
    let now = Utc::now();
    let back = agents::record_signs_of_life(&pool, &[(chatty, now + Duration::seconds(60))])
        .await
        .expect("flush");
    assert!(back.is_empty(), "chatty was never offline");

    let offline = agents::sweep_offline(&pool, now + Duration::seconds(30))
        .await
        .expect("sweep");
    assert_eq!(offline, [quiet]);
    assert_eq!(
        agents::list(&pool, Some(AgentStatus::Offline))
            .await
            .expect("list")
            .len(),
        1
    );
    assert!(
        agents::sweep_offline(&pool, now + Duration::seconds(30))
            .await
            .expect("sweep")
            .is_empty()
    );

    let back = agents::record_signs_of_life(&pool, &[(quiet, now), (chatty, now)])
        .await
        .expect("flush");
    assert_eq!(back, [quiet]);
    let chatty_row = agents::get(&pool, chatty)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        chatty_row.last_heartbeat.map(|t| t.timestamp_millis()),
        Some((now + Duration::seconds(60)).timestamp_millis()),
        "an older sign of life never moves last_heartbeat back"
    );
    let directory = agents::directory(&pool).await.expect("directory");
    assert!(directory.iter().all(|(_, online, _)| *online));
}
