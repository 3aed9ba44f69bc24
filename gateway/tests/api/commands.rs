//! Commands whose coordinator died before answering: one safe to send twice goes again, any
//! other is refused as unavailable. A stand-in coordinator takes the requests, so that which
//! one goes unanswered is certain.

use std::time::Duration;

use futures::StreamExt;
use planexec_gateway::coordinator::CoordinatorClient;
use planexec_gateway::error::ApiError;
use planexec_harness::TestEnv;
use planexec_schemas::command::{
    Command, CommandError, CreateExecution, Reply, UpdateExecutionStatus,
};
use planexec_schemas::execution::{Execution, ExecutionStatus};
use planexec_schemas::new_id;

/// A gateway-side client whose requests give up after `NATS_REQUEST` without an answer, as they
/// do after 10 s in production.
const NATS_REQUEST: Duration = Duration::from_millis(500);

async fn client(env: &TestEnv) -> CoordinatorClient {
    let nats = async_nats::ConnectOptions::new()
        .request_timeout(Some(NATS_REQUEST))
        .connect(&env.nats_url)
        .await
        .expect("nats");
    CoordinatorClient::new(nats, env.namespace.clone(), Duration::from_secs(5))
}

/// Subscribes a coordinator that lets the first request of `C` go unanswered and answers every
/// later one with `answer`; returns the payloads it was sent.
async fn stand_in<C: Command>(
    env: &TestEnv,
    answer: Reply<C::Reply>,
) -> tokio::sync::mpsc::UnboundedReceiver<C> {
    let nats = env.nats().await;
    let mut requests = nats
        .subscribe(env.namespace.command_subject(C::VERB))
        .await
        .expect("subscribe");
    nats.flush().await.expect("flush");
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    let answer = serde_json::to_vec(&answer).expect("answer serialises");
    tokio::spawn(async move {
        let mut first = true;
        while let Some(request) = requests.next().await {
            let command: C = serde_json::from_slice(&request.payload).expect("a command");
            let _ = sender.send(command);
            if std::mem::take(&mut first) {
                continue;
            }
            let reply = request.reply.expect("a request");
            nats.publish(reply, answer.clone().into())
                .await
                .expect("answer");
        }
    });
    received
}

#[tokio::test]
async fn a_creation_whose_answer_was_lost_is_sent_again_with_the_same_id() {
    let env = TestEnv::start().await;
    let missing = CommandError::not_found("plan", "p-gone");
    let mut received =
        stand_in::<CreateExecution>(&env, Reply::<Execution>::Error(missing.clone())).await;
    let command = CreateExecution {
        id: Some(new_id()),
        plan_id: new_id(),
        agent_id: new_id(),
        max_parallel: None,
        routing: None,
    };

    let answer = client(&env).await.call(&command).await;

    match answer {
        Err(ApiError::NotFound { resource, id }) => {
            assert_eq!((resource.as_str(), id.as_str()), ("plan", "p-gone"));
        }
        other => panic!("the second sending was not answered: {other:?}"),
    }
    let first = received.recv().await.expect("first sending");
    let second = received.recv().await.expect("second sending");
    assert_eq!(first, command);
    assert_eq!(second, command, "sent again under the same id");
}

#[tokio::test]
async fn a_command_not_safe_to_repeat_is_sent_once_and_refused_as_unavailable() {
    let env = TestEnv::start().await;
    let never = CommandError::Internal {
        message: "a second sending must not happen".into(),
    };
    let mut received =
        stand_in::<UpdateExecutionStatus>(&env, Reply::<Execution>::Error(never)).await;
    let command = UpdateExecutionStatus {
        execution_id: new_id(),
        status: ExecutionStatus::Cancelled,
        reason: None,
    };

    let answer = client(&env).await.call(&command).await;

    assert!(
        matches!(answer, Err(ApiError::Unavailable(_))),
        "{answer:?}"
    );
    assert_eq!(received.recv().await, Some(command));
    assert!(received.try_recv().is_err(), "the command was sent twice");
}
