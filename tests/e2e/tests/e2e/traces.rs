//! One trace from the operator's request to the last commit: with an OTLP endpoint configured,
//! `planexec up` exports its spans, and the W3C trace context travels through NATS (commands,
//! task messages, the agents' events), so the request that created the execution, its command,
//! every dispatch and every event the Larry simulator reported share the caller's trace id.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::json;

use super::support::{OPERATOR, Stack};

/// What the collector keeps of a span.
#[derive(Debug, Clone)]
struct Seen {
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
}

type Spans = Arc<Mutex<Vec<Seen>>>;

/// An OTLP/HTTP collector (protobuf) on a free port; its URL and what it received.
async fn collector() -> (String, Spans) {
    async fn export(State(spans): State<Spans>, body: Bytes) -> Vec<u8> {
        let request = ExportTraceServiceRequest::decode(body).expect("an OTLP export");
        let mut seen = spans.lock().expect("spans");
        for resource in request.resource_spans {
            for scope in resource.scope_spans {
                for span in scope.spans {
                    seen.push(Seen {
                        name: span.name,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent: hex(&span.parent_span_id),
                    });
                }
            }
        }
        Vec::new()
    }
    let spans = Spans::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(export))
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_request_its_dispatches_and_the_agents_events_are_one_trace() {
    let (endpoint, spans) = collector().await;
    let stack = Stack::up_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ])
    .await;
    let fixture = planexec_harness::fixtures_dir().join("planexe/dog_breeder_prospecting");
    let summary: serde_json::Value = serde_json::from_str(&stack.cli(&[
        "plan",
        "import",
        fixture.to_str().expect("utf-8 path"),
        "--json",
    ]))
    .expect("summary");
    let plan = summary["id"].as_str().expect("plan id").to_owned();
    let (agent, token) = stack.register_larry("larry-traced").await;

    // The operator's own trace: the execution is created inside it.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let created: serde_json::Value = planexec_tls::client()
        .post(format!("{}/api/executions", stack.url))
        .bearer_auth(OPERATOR)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({"plan_id": plan, "agent_id": agent}))
        .send()
        .await
        .expect("created")
        .json()
        .await
        .expect("JSON");
    let execution = created["id"].as_str().expect("id").to_owned();
    let log = stack.dir.path().join("events.jsonl");
    let mut larry = stack.larry(&agent, &token, "nats", &log, &["--time-scale", "0.0001"]);
    let done = stack
        .until_completed(&execution, Duration::from_secs(180), &mut [&mut larry])
        .await;
    let leaves = done["leaves_total"].as_u64().expect("leaves") as usize;

    // Every leaf's dispatch and its completion arrive at the collector, in the caller's trace.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let ours = loop {
        let ours: Vec<Seen> = spans
            .lock()
            .expect("spans")
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect();
        let count = |name: &str| ours.iter().filter(|s| s.name == name).count();
        if count("dispatch") >= leaves && count("event") >= 2 * leaves {
            break ours;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the trace is incomplete: {} dispatch and {} event spans for {leaves} leaves; names: {:?}",
            count("dispatch"),
            count("event"),
            ours.iter()
                .map(|s| s.name.as_str())
                .collect::<std::collections::BTreeSet<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for name in ["request", "command"] {
        assert!(
            ours.iter().any(|s| s.name == name),
            "no {name} span in the trace"
        );
    }
    // An event's parent is the dispatch of its task: the agent carried the context back.
    let dispatches: std::collections::HashSet<&str> = ours
        .iter()
        .filter(|s| s.name == "dispatch")
        .map(|s| s.span_id.as_str())
        .collect();
    let children = ours
        .iter()
        .filter(|s| s.name == "event" && dispatches.contains(s.parent.as_str()))
        .count();
    assert!(
        children >= 2 * leaves,
        "{children} event spans are children of a dispatch, for {leaves} leaves"
    );
    assert!(larry.stop(), "{}", larry.output());
}
