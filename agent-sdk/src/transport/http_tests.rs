//! What can be checked of the HTTP transport without a gateway: URLs, bodies, the reading of
//! problem documents, and behaviour against a port where nothing listens (a real socket).

use planexec_schemas::event::{AgentEventBody, LogLevel};
use planexec_schemas::new_id;

use super::*;
use crate::events::{TaskKey, event};

/// A local URL where nothing listens: the port was just free.
fn closed_gateway() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn some_event(body: AgentEventBody) -> AgentEvent {
    event(
        TaskKey {
            execution_id: new_id(),
            task_id: new_id(),
            attempt: 2,
        },
        body,
    )
}

#[test]
fn urls_keep_the_gateways_path_prefix_and_carry_the_wait() {
    let agent = new_id();
    let gateway = parse_gateway("https://example.org/planexec/").expect("valid");
    assert_eq!(
        work_url(&gateway, agent, 20).as_str(),
        format!("https://example.org/planexec/api/agents/{agent}/work?wait=20")
    );
    let bare = parse_gateway("http://127.0.0.1:8080").expect("valid");
    let execution = new_id();
    assert_eq!(
        events_url(&bare, execution).as_str(),
        format!("http://127.0.0.1:8080/api/executions/{execution}/events")
    );
    assert_eq!(
        api_url(&bare, &["agents"]).as_str(),
        "http://127.0.0.1:8080/api/agents"
    );
}

#[test]
fn a_gateway_url_that_is_not_http_is_refused() {
    for bad in ["nats://127.0.0.1:4222", "mailto:x@y", "no url"] {
        assert!(
            matches!(parse_gateway(bad), Err(Error::Options(_))),
            "{bad} accepted"
        );
    }
}

#[test]
fn a_reported_event_keeps_its_id_and_flattens_its_body_as_the_gateway_expects() {
    let event = some_event(AgentEventBody::TaskProgress {
        progress: 40.0,
        message: Some("dialling".into()),
    });
    let json = serde_json::to_value(report_request(&event)).expect("serialises");
    assert_eq!(json["event_id"], event.event_id.to_string());
    assert_eq!(json["task_id"], event.task_id.to_string());
    assert_eq!(json["attempt"], 2);
    assert_eq!(json["event_type"], "task_progress");
    assert_eq!(json["progress"], 40.0);
    assert_eq!(json["message"], "dialling");
    assert!(json.get("execution_id").is_none(), "the URL names it");
    let back: ReportEventRequest = serde_json::from_value(json).expect("parses back");
    assert_eq!(back.body, event.body);
}

#[test]
fn problem_documents_become_precise_errors() {
    let agent = new_id();
    let problem = |status: u16, detail: &str| {
        serde_json::to_vec(&serde_json::json!({
            "type": "https://planexec.dev/problems/x",
            "title": "Title",
            "status": status,
            "detail": detail,
        }))
        .expect("json")
    };
    assert!(matches!(
        error_from_parts(401, &problem(401, "bad token"), Some(agent)),
        Error::Unauthorised { detail } if detail == "bad token"
    ));
    assert!(matches!(
        error_from_parts(403, &problem(403, "not yours"), None),
        Error::Forbidden { .. }
    ));
    assert!(matches!(
        error_from_parts(404, &problem(404, "no agent"), Some(agent)),
        Error::UnknownAgent { agent_id, .. } if agent_id == agent
    ));
    let unknown_task = error_from_parts(404, &problem(404, "no task"), None);
    assert!(matches!(unknown_task, Error::Server { status: 404, .. }));
    assert!(
        !unknown_task.is_transient(),
        "an unknown task stays unknown"
    );
    let invalid = serde_json::to_vec(&serde_json::json!({
        "type": "https://planexec.dev/problems/validation",
        "title": "Invalid input",
        "status": 422,
        "detail": "1 field is invalid",
        "errors": [{"field": "progress", "message": "must be a percentage between 0 and 100"}],
    }))
    .expect("json");
    match error_from_parts(422, &invalid, None) {
        Error::Server { status, problem } => {
            assert_eq!(status, 422);
            assert_eq!(
                problem.errors.map(|e| e[0].field.clone()),
                Some("progress".into())
            );
        }
        other => panic!("expected a server problem, got {other:?}"),
    }
}

#[test]
fn an_answer_that_is_not_a_problem_document_still_says_what_came_back() {
    let error = error_from_parts(502, b"<html>Bad Gateway</html>", None);
    assert!(error.is_transient());
    let text = error.to_string();
    assert!(
        text.contains("502") && text.contains("Bad Gateway"),
        "{text}"
    );
}

#[tokio::test]
async fn polling_a_gateway_that_is_not_there_is_a_passing_unreachable_error() {
    let link = HttpLink::new(&closed_gateway(), new_id(), "token", Duration::from_secs(2))
        .expect("valid link");
    let error = link
        .poll(Duration::from_secs(1))
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
    assert!(error.is_transient() && !error.is_fatal());
}

#[tokio::test]
async fn after_a_failed_event_the_rest_of_the_window_waits_so_that_nothing_overtakes_it() {
    let link = HttpLink::new(&closed_gateway(), new_id(), "token", Duration::from_secs(2))
        .expect("valid link");
    let events = [
        some_event(AgentEventBody::TaskStarted {}),
        some_event(AgentEventBody::Log {
            level: LogLevel::Info,
            message: "dialling".into(),
        }),
    ];
    let results = link.deliver(&events).await;
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(e) if e.is_transient()))
    );
    let second = results[1].as_ref().expect_err("not sent");
    assert!(second.to_string().contains("not sent"), "{second}");
}

#[tokio::test]
async fn registering_through_a_gateway_that_is_not_there_says_it_is_unreachable() {
    let request = RegisterAgentRequest {
        name: "larry".into(),
        role: "assistant".into(),
        capabilities: vec!["send_email".into()],
    };
    let error = register(&closed_gateway(), "operator-token", &request)
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
}
