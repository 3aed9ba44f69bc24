//! One watcher's connection: a snapshot first, then the topic's frames in version order, a
//! fresh snapshot after a gap, and the connection dropped when the watcher cannot keep up.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use planexec_schemas::Id;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use super::hub::Hub;
use super::message::{self, Frame, Kind, Shown};

/// A watcher that does not take a message within this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection ended early, as its close frame says.
struct Closing(u16, &'static str);

/// Streams one execution to one watcher until either side leaves.
pub async fn execution(mut socket: WebSocket, hub: Hub, id: Id) {
    let end = match hub.watch(id).await {
        Ok(rx) => watch_execution(&mut socket, &hub, id, rx).await,
        Err(e) => {
            tracing::warn!(error = %e, "the stream cannot watch an execution");
            Err(Closing(close_code::ERROR, "the updates are not available"))
        }
    };
    close(socket, end).await;
}

/// Streams the executions list's changes to one watcher.
pub async fn list(mut socket: WebSocket, hub: Hub) {
    let end = match hub.watch_all().await {
        Ok(rx) => watch_list(&mut socket, &hub, rx).await,
        Err(e) => {
            tracing::warn!(error = %e, "the stream cannot watch the executions");
            Err(Closing(close_code::ERROR, "the updates are not available"))
        }
    };
    close(socket, end).await;
}

async fn watch_execution(
    socket: &mut WebSocket,
    hub: &Hub,
    id: Id,
    mut rx: Receiver<Arc<Frame>>,
) -> Result<(), Closing> {
    let mut shown = snapshot(socket, hub, id).await?;
    loop {
        tokio::select! {
            frame = rx.recv() => {
                let frame = received(frame)?;
                let gap = match frame.kind {
                    // Older than the snapshot; sent only for events the snapshot did not hold.
                    Kind::Update if frame.version <= shown.version => {
                        if frame.last_seq <= shown.last_seq { continue }
                        false
                    }
                    Kind::Update => frame.version > shown.version + 1,
                    Kind::Heartbeat => frame.version > shown.version,
                };
                if gap {
                    shown = snapshot(socket, hub, id).await?;
                } else {
                    send(socket, frame.text.clone()).await?;
                    shown.version = shown.version.max(frame.version);
                    shown.last_seq = shown.last_seq.max(frame.last_seq);
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                // A watcher that saw a gap itself asks for a fresh picture.
                Some(Ok(Message::Text(text))) if text.contains("snapshot") => {
                    shown = snapshot(socket, hub, id).await?;
                }
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn watch_list(
    socket: &mut WebSocket,
    hub: &Hub,
    mut rx: Receiver<Arc<Frame>>,
) -> Result<(), Closing> {
    list_snapshot(socket, hub).await?;
    loop {
        tokio::select! {
            frame = rx.recv() => {
                let frame = received(frame)?;
                send(socket, frame.text.clone()).await?;
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(Message::Text(text))) if text.contains("snapshot") => {
                    list_snapshot(socket, hub).await?;
                }
                Some(Ok(_)) => {}
            },
        }
    }
}

fn received(frame: Result<Arc<Frame>, RecvError>) -> Result<Arc<Frame>, Closing> {
    match frame {
        Ok(frame) => Ok(frame),
        Err(RecvError::Lagged(_)) => Err(Closing(
            close_code::POLICY,
            "too slow: fell behind the updates; reconnect for a snapshot",
        )),
        Err(RecvError::Closed) => Err(Closing(close_code::AGAIN, "the updates stopped")),
    }
}

async fn snapshot(socket: &mut WebSocket, hub: &Hub, id: Id) -> Result<Shown, Closing> {
    match message::snapshot(hub.pool(), id).await {
        Ok(Some((shown, text))) => {
            send(socket, text).await?;
            Ok(shown)
        }
        Ok(None) => Err(Closing(close_code::POLICY, "no such execution")),
        Err(e) => {
            tracing::warn!(error = %e, "the stream cannot take a snapshot");
            Err(Closing(close_code::AGAIN, "the database is not available"))
        }
    }
}

async fn list_snapshot(socket: &mut WebSocket, hub: &Hub) -> Result<(), Closing> {
    match message::list_snapshot(hub.pool()).await {
        Ok(text) => send(socket, text).await,
        Err(e) => {
            tracing::warn!(error = %e, "the stream cannot list the executions");
            Err(Closing(close_code::AGAIN, "the database is not available"))
        }
    }
}

async fn send(socket: &mut WebSocket, text: String) -> Result<(), Closing> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Closing(close_code::AWAY, "")),
        Err(_) => Err(Closing(
            close_code::POLICY,
            "too slow: a message waited 10 s",
        )),
    }
}

async fn close(mut socket: WebSocket, end: Result<(), Closing>) {
    if let Err(Closing(code, reason)) = end {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            socket.send(Message::Close(Some(frame))),
        )
        .await;
    }
}
