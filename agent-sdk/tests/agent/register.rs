//! Registration over NATS, by hand and by the runner.

use std::time::Duration;

use planexec_agent_sdk::{Identity, RegisterVia, Registration, token_hash};
use planexec_schemas::agent::token;

use super::support::{Script, Stack};

#[tokio::test]
async fn registering_over_nats_gives_a_token_that_names_the_agent_and_is_stored_hashed() {
    let stack = Stack::new().await;
    let credentials = stack.register("larry", &["send_email", "manage_csv"]).await;
    assert_eq!(
        token::agent_of(&credentials.token),
        Some(credentials.agent_id)
    );
    let stored = planexec_store::agents::token_hash(&stack.pool, credentials.agent_id)
        .await
        .expect("read");
    assert_eq!(stored, Some(token_hash(&credentials.token)));
    let js = async_nats::jetstream::new(stack.nats.clone());
    js.get_stream(stack.ns.tasks_stream())
        .await
        .expect("tasks stream")
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
            &stack.ns.agent_consumer(credentials.agent_id),
        )
        .await
        .expect("the agent's task consumer exists");
}

#[tokio::test]
async fn an_agent_told_to_register_does_so_with_its_handlers_capabilities() {
    let stack = Stack::new().await;
    let placeholder = stack.register("placeholder", &["send_email"]).await;
    let mut options = stack.options(&placeholder);
    options.identity = Identity::Register {
        registration: Registration {
            name: "self-registered".into(),
            role: "script".into(),
            capabilities: vec![],
        },
        via: RegisterVia::Nats {
            url: stack.env.nats_url.clone(),
        },
    };
    let agent = stack.run(
        options,
        Script {
            capabilities: vec!["make_phone_call".into(), "send_email".into()],
            run: |_task, _ctx| async { Ok(serde_json::Value::Null) },
        },
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let agent_row = loop {
        let agents = planexec_store::agents::list(&stack.pool, None)
            .await
            .expect("agents");
        if let Some(found) = agents.into_iter().find(|a| a.name == "self-registered") {
            break found;
        }
        assert!(tokio::time::Instant::now() < deadline, "never registered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(agent_row.capabilities, ["make_phone_call", "send_email"]);
    let report = agent.stop().await;
    let registered = report.registered.expect("the report carries the new agent");
    assert_eq!(
        (registered.agent.id, report.agent_id),
        (agent_row.id, agent_row.id)
    );
    assert_eq!(token::agent_of(&registered.token), Some(agent_row.id));
}
