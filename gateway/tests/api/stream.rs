//! `WS /api/executions/{id}/stream` and `WS /api/executions/stream`: a snapshot on connect, an
//! update per committed change in version order, a heartbeat at least every 5 s, a fresh
//! snapshot after a gap, one NATS subscription per execution however many watch it, and
//! nothing left behind when the watchers leave.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use super::support::{Api, OPERATOR};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn ws_url(api: &Api, path: &str) -> String {
    format!("{}{path}", api.base.replacen("http://", "ws://", 1))
}

async fn connect(api: &Api, path: &str) -> Socket {
    let (socket, _) = connect_async(ws_url(api, &format!("{path}?token={OPERATOR}")))
        .await
        .expect("the stream accepts the operator token in the query");
    socket
}

/// The next JSON text message, within `secs`.
async fn next(socket: &mut Socket, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let msg = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no message within {secs} s"))
            .expect("the stream is open")
            .expect("a frame");
        match msg {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
            Message::Close(frame) => panic!("closed by the server: {frame:?}"),
            _ => {}
        }
    }
}

/// Reads messages until one satisfies `pred`; returns every message read, the last matching.
async fn until(socket: &mut Socket, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let msg = next(socket, 15).await;
        let done = pred(&msg);
        seen.push(msg);
        if done {
            return seen;
        }
    }
}

fn has_event(msg: &Value, kind: &str) -> bool {
    msg["events"]
        .as_array()
        .is_some_and(|events| events.iter().any(|e| e["event_type"] == kind))
}

#[tokio::test]
async fn a_watcher_gets_a_snapshot_then_every_change_in_order_then_heartbeats() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    api.until_status(id, "RUNNING").await;
    let mut socket = connect(&api, &format!("/api/executions/{id}/stream")).await;

    let snapshot = next(&mut socket, 5).await;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    assert_eq!(snapshot["execution_id"], id.to_string());
    for field in [
        "timestamp",
        "version",
        "status",
        "progress",
        "tasks",
        "events",
    ] {
        assert!(
            !snapshot[field].is_null(),
            "the snapshot lacks {field}: {snapshot}"
        );
    }
    assert_eq!(
        snapshot["tasks"].as_array().map(Vec::len),
        Some(2),
        "two tasks: {snapshot}"
    );
    let mut version = snapshot["version"].as_i64().expect("version");

    let first = api.work(&larry).await;
    api.report(&larry, &first, json!({"event_type": "task_started"}))
        .await
        .expect(202);
    api.report(
        &larry,
        &first,
        json!({"event_type": "task_complete", "output": {"sent": 3}}),
    )
    .await
    .expect(200);
    let seen = until(&mut socket, |m| has_event(m, "task_complete")).await;
    for msg in &seen {
        assert_eq!(
            msg["type"], "update",
            "only updates while things change: {msg}"
        );
        let v = msg["version"].as_i64().expect("version");
        assert_eq!(
            v,
            version + 1,
            "updates come in version order, without gaps: {seen:?}"
        );
        version = v;
        assert!(
            msg["timestamp"].is_string()
                && msg["status"].is_string()
                && msg["progress"].is_number()
        );
    }
    assert!(
        seen.iter().any(|m| has_event(m, "task_started")),
        "{seen:?}"
    );
    let last = seen.last().expect("an update");
    assert_eq!(last["progress"], 50.0, "{last}");
    assert!(
        last["tasks"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["status"] == "completed")),
        "the update names the task that moved: {last}"
    );

    // Then, when nothing else happens, a heartbeat at least every 5 s with the latest version.
    let heartbeat = loop {
        let msg = next(&mut socket, 7).await;
        if msg["type"] == "heartbeat" {
            break msg;
        }
        assert_eq!(msg["type"], "update", "{msg}");
        version = msg["version"].as_i64().expect("version");
    };
    assert_eq!(heartbeat["version"], version, "{heartbeat}");
    assert_eq!(heartbeat["status"], "RUNNING");
    assert_eq!(heartbeat["progress"], 50.0);
    let quiet = tokio::time::Instant::now();
    until(&mut socket, |m| m["type"] == "heartbeat").await;
    assert!(
        quiet.elapsed() <= Duration::from_millis(5500),
        "heartbeats every 5 s: {:?}",
        quiet.elapsed()
    );
}

#[tokio::test]
async fn a_gap_in_the_versions_brings_a_fresh_snapshot() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    api.until_status(id, "RUNNING").await;
    let mut socket = connect(&api, &format!("/api/executions/{id}/stream")).await;
    let snapshot = next(&mut socket, 5).await;
    let version = snapshot["version"].as_i64().expect("version");

    // An update from the future: the ones in between were lost.
    let update = json!({
        "execution_id": id, "version": version + 5, "status": "RUNNING", "progress": 0.0,
        "current_task": null, "blocked_reason": null, "tasks": [], "at": chrono::Utc::now(),
    });
    let nats = api.env.nats().await;
    nats.publish(
        api.env.namespace.updates_subject(id),
        serde_json::to_vec(&update).expect("json").into(),
    )
    .await
    .expect("published");
    nats.flush().await.expect("flushed");
    let fresh = next(&mut socket, 5).await;
    assert_eq!(
        fresh["type"], "snapshot",
        "a gap is answered with a snapshot: {fresh}"
    );
    assert_eq!(
        fresh["version"], version,
        "the snapshot is the database's truth"
    );

    // A watcher may ask for one itself.
    socket
        .send(Message::Text(r#"{"type":"snapshot"}"#.into()))
        .await
        .expect("sent");
    assert_eq!(next(&mut socket, 5).await["type"], "snapshot");
}

#[tokio::test]
async fn the_stream_needs_the_operator_token_and_an_execution() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    let path = format!("/api/executions/{id}/stream");

    let refused = |result: Result<_, WsError>| match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("not an HTTP refusal: {e}"),
        Ok(_) => panic!("the upgrade was accepted"),
    };
    assert_eq!(refused(connect_async(ws_url(&api, &path)).await), 401);
    assert_eq!(
        refused(connect_async(ws_url(&api, &format!("{path}?token=nope"))).await),
        401
    );
    assert_eq!(
        refused(connect_async(ws_url(&api, &format!("{path}?token={}", larry.token))).await),
        401,
        "an agent's token is not the operator's"
    );
    let unknown = format!(
        "/api/executions/{}/stream?token={OPERATOR}",
        planexec_schemas::new_id()
    );
    assert_eq!(refused(connect_async(ws_url(&api, &unknown)).await), 404);

    // Browsers cannot set headers: the token as a subprotocol, next to `planexec`.
    let mut request = ws_url(&api, &path).into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&format!("planexec, bearer.{OPERATOR}")).expect("header"),
    );
    let (mut socket, response) = connect_async(request).await.expect("accepted");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap_or("")),
        Some("planexec")
    );
    assert_eq!(next(&mut socket, 5).await["type"], "snapshot");

    let plain = api.get(&path, Some(OPERATOR)).await;
    plain.expect_problem(400, "bad-request");
}

#[tokio::test]
async fn watchers_share_one_subscription_and_leave_nothing_behind() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0, 0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    let path = format!("/api/executions/{id}/stream");
    let mut watchers = Vec::new();
    for _ in 0..3 {
        let mut socket = connect(&api, &path).await;
        assert_eq!(next(&mut socket, 5).await["type"], "snapshot");
        watchers.push(socket);
    }
    assert_eq!(
        api.state.streams().subscriptions(),
        1,
        "three watchers, one subscription"
    );
    let mut list = connect(&api, "/api/executions/stream").await;
    let listed = next(&mut list, 5).await;
    assert_eq!(listed["type"], "snapshot");
    assert!(
        listed["executions"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["id"] == id.to_string())),
        "{listed}"
    );
    assert_eq!(api.state.streams().subscriptions(), 2);

    // Every watcher sees the same change; the list sees the status.
    let task = api.work(&larry).await;
    api.report(
        &larry,
        &task,
        json!({"event_type": "task_complete", "output": {}}),
    )
    .await
    .expect(200);
    for socket in &mut watchers {
        until(socket, |m| has_event(m, "task_complete")).await;
    }
    let listed = until(&mut list, |m| {
        m["type"] == "update" && m["execution_id"] == id.to_string() && m["progress"] == 50.0
    })
    .await;
    assert!(listed.last().is_some_and(|m| m["status"].is_string()));

    for mut socket in watchers.drain(..) {
        socket.close(None).await.expect("closed");
    }
    drop(list);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while api.state.streams().subscriptions() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscriptions left behind: {}",
            api.state.streams().subscriptions()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A watcher whose socket takes 4 KiB and reads nothing: once the kernel's buffers are full the
/// gateway's sends block, and it drops that watcher (a send waits at most 10 s) instead of
/// buffering its frames.
async fn connect_and_stall(api: &Api, path: &str) -> Socket {
    let url = ws_url(api, &format!("{path}?token={OPERATOR}"));
    let addr = api.base.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    let stream = socket
        .connect(addr.parse().expect("an address"))
        .await
        .expect("connected");
    let (socket, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream))
        .await
        .expect("the stream accepts the operator token in the query");
    socket
}

#[tokio::test]
async fn a_watcher_that_cannot_keep_up_is_dropped_and_the_others_go_on() {
    let api = Api::start().await;
    let larry = api.register("larry", &["send_email"]).await;
    let plan = api.plan(&[0]).await;
    let id = api.execution(plan, larry.agent.id).await;
    api.until_status(id, "RUNNING").await;
    let path = format!("/api/executions/{id}/stream");
    let mut slow = connect_and_stall(&api, &path).await;
    let mut brisk = connect(&api, &path).await;
    let version = next(&mut brisk, 5).await["version"]
        .as_i64()
        .expect("version");
    assert_eq!(api.state.streams().watchers(id), 2);

    // Updates of 40 KiB each, in version order: 9.6 MB, more than the kernel buffers between
    // the gateway and the stalled socket hold (4 MiB at most for the sender).
    let nats = api.env.nats().await;
    let padding = "1".repeat(40 * 1024);
    let task = planexec_schemas::new_id();
    for n in 1..=240 {
        let update = json!({
            "execution_id": id, "version": version + n, "status": "RUNNING", "progress": 0.0,
            "current_task": null, "blocked_reason": null, "at": chrono::Utc::now(),
            "tasks": [{"id": task, "wbs": padding, "status": "running", "attempt": 1, "progress": 0.0}],
        });
        nats.publish(
            api.env.namespace.updates_subject(id),
            serde_json::to_vec(&update).expect("json").into(),
        )
        .await
        .expect("published");
    }
    nats.flush().await.expect("flushed");
    let seen = until(&mut brisk, |m| m["version"] == json!(version + 240)).await;
    assert!(
        seen.iter().all(|m| m["type"] == "update"),
        "the reader saw every update in order, no snapshot: {:?}",
        seen.iter().map(|m| &m["type"]).collect::<Vec<_>>()
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while api.state.streams().watchers(id) > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled watcher is still held"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // What the slow socket holds ends, short of the newest update: it was cut off.
    let mut newest = 0;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), slow.next()).await {
        if let Message::Text(text) = msg {
            let m: Value = serde_json::from_str(&text).expect("JSON");
            newest = newest.max(m["version"].as_i64().unwrap_or(0));
        }
    }
    assert!(newest < version + 240, "the slow watcher was not cut off");
    assert_eq!(api.state.streams().watchers(id), 1, "the reader stays");
}
