//! Against a real nats-server started with a configuration from `Setup::write`: the service
//! user can run JetStream, an agent can do its own work and nothing else, anonymous clients are
//! refused, and a revocation shuts an agent out.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_nats::{ConnectOptions, Event};
use futures::StreamExt;
use planexec_nats_auth::{Revoker, Setup, Signer, mint};
use planexec_schemas::subjects::Namespace;
use planexec_servers::{NatsOptions, PrivateNats};
use tokio::sync::mpsc;

struct Server {
    _dir: tempfile::TempDir,
    nats: PrivateNats,
    setup: Setup,
    written: planexec_nats_auth::setup::Written,
}

fn start() -> Server {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let setup = Setup::generate();
    let written = setup
        .write(&dir.path().join("auth"))
        .expect("writing the setup");
    let nats = PrivateNats::start(&NatsOptions {
        store_dir: dir.path().join("store"),
        port: None,
        config: Some(written.nats_conf.clone()),
    })
    .expect("nats-server must be on PATH for these tests (apt install nats-server)");
    Server {
        _dir: dir,
        nats,
        setup,
        written,
    }
}

/// A client with `creds`, whose server errors (permission violations) arrive on the receiver.
async fn connect(
    url: &str,
    creds: &str,
    inbox: Option<String>,
) -> (async_nats::Client, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut options = ConnectOptions::with_credentials(creds)
        .expect("credentials parse")
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let Event::ServerError(e) = event {
                    let _ = tx.send(format!("{e:?}"));
                }
            }
        });
    if let Some(prefix) = inbox {
        options = options.custom_inbox_prefix(prefix);
    }
    let client = options
        .connect(url)
        .await
        .expect("connecting with credentials");
    (client, rx)
}

async fn violation(errors: &mut mpsc::UnboundedReceiver<String>, subject: &str) -> bool {
    let wait = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(e) = errors.recv().await {
            if e.to_lowercase().contains("permissions violation") && e.contains(subject) {
                return true;
            }
        }
        false
    });
    wait.await.unwrap_or(false)
}

async fn streams(service: &async_nats::Client, ns: &Namespace, agents: &[planexec_schemas::Id]) {
    let js = jetstream::new(service.clone());
    js.get_or_create_stream(stream::Config {
        name: ns.events_stream(),
        subjects: vec![ns.events_wildcard()],
        ..Default::default()
    })
    .await
    .expect("the service user creates the events stream");
    let tasks = js
        .get_or_create_stream(stream::Config {
            name: ns.tasks_stream(),
            subjects: vec![ns.tasks_wildcard()],
            retention: stream::RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await
        .expect("the service user creates the tasks stream");
    for agent in agents {
        tasks
            .get_or_create_consumer(
                &ns.agent_consumer(*agent),
                consumer::pull::Config {
                    durable_name: Some(ns.agent_consumer(*agent)),
                    filter_subject: ns.tasks_subject(*agent),
                    ..Default::default()
                },
            )
            .await
            .expect("the service user creates an agent's consumer");
    }
}

fn signer(server: &Server) -> Signer {
    server.setup.signer().expect("the setup's signer")
}

#[tokio::test]
async fn an_agent_does_its_own_work_and_nothing_of_another_agent_or_the_operator() {
    let server = start();
    let url = server.nats.url();
    let ns = Namespace::default();
    let (a, b) = (planexec_schemas::new_id(), planexec_schemas::new_id());
    let service_creds = std::fs::read_to_string(&server.written.service_creds).unwrap();
    let (service, _) = connect(&url, &service_creds, None).await;
    streams(&service, &ns, &[a, b]).await;

    let creds = mint(&signer(&server), &ns, a).expect("minting");
    let (agent, mut errors) = connect(&url, &creds.creds, Some(ns.agent_inbox_prefix(a))).await;
    let js = jetstream::new(agent.clone());

    // its own work: a task for it arrives through its consumer, and its events are stored
    jetstream::new(service.clone())
        .publish(ns.tasks_subject(a), "task".into())
        .await
        .unwrap()
        .await
        .expect("the service publishes a task");
    let consumer: consumer::PullConsumer = js
        .get_consumer_from_stream(ns.agent_consumer(a), ns.tasks_stream())
        .await
        .expect("an agent looks up its own consumer");
    let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
    let message = batch.next().await.expect("a task").expect("a message");
    assert_eq!(&message.payload[..], b"task");
    message.ack().await.expect("an agent acks its task");
    js.publish(
        ns.events_subject(a, planexec_schemas::new_id()),
        "event".into(),
    )
    .await
    .unwrap()
    .await
    .expect("an agent's event is stored");
    agent
        .publish(ns.heartbeats_subject(a), "beat".into())
        .await
        .unwrap();

    // another agent's events, tasks and consumer, and the operator's commands, are refused
    let forged = ns.events_subject(b, planexec_schemas::new_id());
    agent
        .publish(forged.clone(), "forged".into())
        .await
        .unwrap();
    assert!(
        violation(&mut errors, &forged).await,
        "published as another agent"
    );
    let _tasks = agent.subscribe(ns.tasks_wildcard()).await.unwrap();
    assert!(
        violation(&mut errors, &ns.tasks_wildcard()).await,
        "read every agent's tasks"
    );
    let next_b = format!(
        "$JS.API.CONSUMER.MSG.NEXT.{}.{}",
        ns.tasks_stream(),
        ns.agent_consumer(b)
    );
    agent.publish(next_b.clone(), "{}".into()).await.unwrap();
    assert!(
        violation(&mut errors, &next_b).await,
        "pulled another agent's task"
    );
    let command = ns.command_subject("update_execution_status");
    agent.publish(command.clone(), "{}".into()).await.unwrap();
    assert!(
        violation(&mut errors, &command).await,
        "sent an operator command"
    );
    let delete = format!("$JS.API.STREAM.DELETE.{}", ns.tasks_stream());
    agent.publish(delete.clone(), "".into()).await.unwrap();
    assert!(
        violation(&mut errors, &delete).await,
        "deleted the task stream"
    );
    let _inboxes = agent.subscribe("_INBOX.>").await.unwrap();
    assert!(
        violation(&mut errors, "_INBOX.>").await,
        "read every reply inbox"
    );
}

#[tokio::test]
async fn anonymous_clients_are_refused() {
    let server = start();
    let refused = ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .connect(server.nats.url())
        .await;
    assert!(refused.is_err(), "a client without credentials connected");
}

#[tokio::test]
async fn a_revoked_agent_can_no_longer_connect() {
    let server = start();
    let url = server.nats.url();
    let ns = Namespace::default();
    let agent = planexec_schemas::new_id();
    let creds = mint(&signer(&server), &ns, agent).expect("minting");
    let (before, _) = connect(&url, &creds.creds, Some(ns.agent_inbox_prefix(agent))).await;
    before
        .flush()
        .await
        .expect("connected before the revocation");

    let env = std::fs::read_to_string(&server.written.env_file).unwrap();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing from planexec.env"))
            .to_owned()
    };
    let revoker = Revoker::new(
        &signer(&server),
        std::path::Path::new(&var("PLANEXE_NATS_OPERATOR_SIGNING_KEY_FILE")),
    )
    .unwrap();
    let system_creds = std::fs::read_to_string(var("PLANEXE_NATS_SYSTEM_CREDS")).unwrap();
    let (system, _) = connect(&url, &system_creds, None).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let revoked = BTreeMap::from([(creds.user_key.clone(), now)]);
    revoker
        .push(&system, &revoked)
        .await
        .expect("the server takes the update");

    let after = ConnectOptions::with_credentials(&creds.creds)
        .unwrap()
        .connection_timeout(Duration::from_secs(3))
        .connect(&url)
        .await;
    assert!(after.is_err(), "a revoked agent connected again");
}
