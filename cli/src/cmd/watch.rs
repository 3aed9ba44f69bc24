//! `planexec exec watch`: follows an execution over `WS /api/executions/{id}/stream` — a
//! snapshot, then every committed change — printing each event once, in order, with a progress
//! bar. It reconnects after a dropped connection; the snapshot it gets then, and the history
//! for anything older than the snapshot holds, fill the gap.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use planexec_schemas::Id;
use planexec_schemas::api::EventList;
use planexec_schemas::event::{EventSource, ExecutionEvent};
use planexec_schemas::execution::{Execution, ExecutionStatus, ExecutionTask, TaskStatus};
use secrecy::ExposeSecret;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::client::ApiClient;

/// One stream message, as far as the watcher reads it.
#[derive(Debug, Deserialize)]
struct StreamMessage {
    #[serde(rename = "type")]
    kind: String,
    version: i64,
    status: ExecutionStatus,
    progress: f64,
    #[serde(default)]
    tasks: Vec<serde_json::Value>,
    #[serde(default)]
    events: Vec<ExecutionEvent>,
}

/// What the watcher has shown so far.
struct View {
    bar: ProgressBar,
    terminal: bool,
    names: HashMap<Id, String>,
    leaves: HashMap<Id, TaskStatus>,
    last_seq: i64,
}

impl View {
    fn print(&self, line: String) {
        if self.terminal {
            self.bar.println(line);
        } else {
            say!("{line}");
        }
    }

    /// A snapshot's task tree: names and the leaves' statuses.
    fn load_tasks(&mut self, tasks: &[serde_json::Value]) {
        let tasks: Vec<ExecutionTask> = tasks
            .iter()
            .filter_map(|t| serde_json::from_value(t.clone()).ok())
            .collect();
        self.leaves.clear();
        for task in tasks {
            for sub in &task.subtasks {
                self.names
                    .insert(sub.id, format!("{} {}", sub.wbs, sub.title));
                self.leaves.insert(sub.id, sub.status);
            }
            if task.subtasks.is_empty() && task.is_leaf {
                self.leaves.insert(task.id, task.status);
            }
            self.names
                .insert(task.id, format!("{} {}", task.wbs, task.title));
        }
    }

    fn show(&mut self, events: impl IntoIterator<Item = ExecutionEvent>) {
        for event in events {
            if event.seq > self.last_seq {
                self.last_seq = event.seq;
                self.print(describe(&event, &self.names));
            }
        }
    }

    fn figures(&self, status: ExecutionStatus, progress: f64) {
        let done = self
            .leaves
            .values()
            .filter(|s| matches!(s, TaskStatus::Completed | TaskStatus::Skipped))
            .count();
        self.bar.set_length(self.leaves.len().max(1) as u64);
        self.bar.set_position(done as u64);
        self.bar.set_message(format!("{status} {progress:.1}%"));
    }
}

pub fn describe(event: &ExecutionEvent, names: &HashMap<Id, String>) -> String {
    let who = match event.source {
        EventSource::Agent => "agent",
        EventSource::Coordinator => "coordinator",
    };
    let mut line = format!(
        "{} {:<11} {:<24}",
        event.timestamp.format("%H:%M:%S%.3f"),
        who,
        event.event_type.as_str()
    );
    if let Some(task) = event.task_id {
        line.push_str(names.get(&task).map_or("", String::as_str));
    }
    if let Some(attempt) = event.attempt.filter(|a| *a > 1) {
        line.push_str(&format!(" (attempt {attempt})"));
    }
    if let Some(reason) = &event.reason {
        line.push_str(&format!(" rejected: {reason}"));
    }
    if let Some(to) = event.output.get("to").and_then(|v| v.as_str()) {
        line.push_str(&format!("→ {to}"));
    }
    line
}

/// Follows an execution until it ends; returns it as it ended.
pub async fn watch(api: &ApiClient, id: Id) -> anyhow::Result<Execution> {
    let terminal = std::io::stdout().is_terminal();
    let bar = if terminal {
        ProgressBar::new(1)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} tasks {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut view = View {
        bar,
        terminal,
        names: HashMap::new(),
        leaves: HashMap::new(),
        last_seq: 0,
    };
    let mut delay = Duration::from_millis(250);
    loop {
        match follow(api, id, &mut view).await {
            Ok(Some(execution)) => {
                view.bar
                    .finish_with_message(format!("{}", execution.status));
                return Ok(execution);
            }
            Ok(None) => delay = Duration::from_millis(250),
            Err(e) => {
                view.print(format!("stream: {e:#}; reconnecting in {delay:?}"));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn stream_url(api: &ApiClient, id: Id) -> String {
    let base = api.base();
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        format!("ws://{}", base.trim_start_matches("http://"))
    };
    format!("{ws}/api/executions/{id}/stream")
}

/// One connection: `Some` when the execution ended, `None` when the server closed.
async fn follow(api: &ApiClient, id: Id, view: &mut View) -> anyhow::Result<Option<Execution>> {
    let mut request = stream_url(api, id).into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", api.token().expose_secret()).parse()?,
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("cannot open the execution's stream")?;
    let mut version = -1;
    while let Some(frame) = socket.next().await {
        let Message::Text(text) = frame? else {
            continue;
        };
        let msg: StreamMessage = serde_json::from_str(&text).context("a stream message")?;
        match msg.kind.as_str() {
            "snapshot" => {
                view.load_tasks(&msg.tasks);
                let oldest = msg.events.iter().map(|e| e.seq).min();
                if view.last_seq > 0 && oldest.is_some_and(|o| o > view.last_seq + 1) {
                    let missed = history_after(api, id, view.last_seq).await?;
                    view.show(missed);
                }
                let mut events = msg.events;
                events.sort_by_key(|e| e.seq);
                view.show(events);
            }
            "update" if msg.version <= version => view.show(msg.events),
            "update" => {
                for task in &msg.tasks {
                    if let (Some(tid), Some(status)) = (
                        task.get("id")
                            .and_then(|v| serde_json::from_value::<Id>(v.clone()).ok()),
                        task.get("status")
                            .and_then(|v| serde_json::from_value::<TaskStatus>(v.clone()).ok()),
                    ) && let Some(leaf) = view.leaves.get_mut(&tid)
                    {
                        *leaf = status;
                    }
                }
                view.show(msg.events);
            }
            _ => {}
        }
        version = version.max(msg.version);
        view.figures(msg.status, msg.progress);
        if msg.status.is_terminal() {
            let execution: Execution = api.get(&format!("/api/executions/{id}")).await?;
            return Ok(Some(execution));
        }
    }
    Ok(None)
}

/// Events after `seq`, oldest first, from the history (for a gap longer than a snapshot).
async fn history_after(api: &ApiClient, id: Id, seq: i64) -> anyhow::Result<Vec<ExecutionEvent>> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/executions/{id}/events?limit=500&disposition=all");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: EventList = api.get(&path).await?;
        let older = page.events.iter().any(|e| e.seq <= seq);
        events.extend(page.events.into_iter().filter(|e| e.seq > seq));
        match page.next_cursor {
            Some(next) if !older => cursor = Some(next),
            _ => break,
        }
    }
    events.reverse();
    Ok(events)
}
