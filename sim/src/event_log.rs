//! The event log: every assignment Larry receives and every event he delivers, one JSON object
//! per line, appended and flushed as it happens, so that a run can be compared with the
//! execution's history in the database.
//!
//! A line: `{"time", "direction": "in"|"out"|"lost", "event_type", "execution_id", "task_id",
//! "attempt", "wbs", ...}`. Incoming lines have `event_type` `task` or `cancel` (plus
//! `capability` and `title` for a task); outgoing ones the event's type, its `event_id` and its
//! payload under `data`. Lines of one task appear in the order the server received them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use planexec_agent_sdk::{AgentEvent, AgentMessage, Observer};
use planexec_schemas::Id;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Error;

/// The observer side: turns traffic into lines for the writer.
#[derive(Debug)]
pub struct EventLog {
    lines: mpsc::UnboundedSender<Value>,
    /// The WBS number of each task attempt seen, since events do not carry it.
    wbs: Mutex<HashMap<(Id, u32), String>>,
}

/// The writer side: appends lines to the file until every [`EventLog`] is gone.
#[derive(Debug)]
pub struct Writer {
    task: JoinHandle<Result<u64, Error>>,
}

impl Writer {
    /// Waits for every line to be written; returns how many were.
    pub async fn finish(self) -> Result<u64, Error> {
        self.task.await.unwrap_or(Ok(0))
    }
}

/// Opens (appends to) `path` and returns the observer and its writer.
pub async fn open(path: &Path) -> Result<(EventLog, Writer), Error> {
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|source| Error::EventLog {
            path: path.to_owned(),
            source,
        })?;
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(write(file, rx, path.to_owned()));
    let log = EventLog {
        lines: tx,
        wbs: Mutex::new(HashMap::new()),
    };
    Ok((log, Writer { task }))
}

async fn write(
    mut file: tokio::fs::File,
    mut lines: mpsc::UnboundedReceiver<Value>,
    path: PathBuf,
) -> Result<u64, Error> {
    let mut written = 0;
    let fail = |source| Error::EventLog {
        path: path.clone(),
        source,
    };
    while let Some(line) = lines.recv().await {
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        file.write_all(&bytes).await.map_err(fail)?;
        file.flush().await.map_err(fail)?;
        written += 1;
    }
    file.sync_data().await.map_err(fail)?;
    Ok(written)
}

impl EventLog {
    fn wbs_of(&self, task: Id, attempt: u32) -> Option<String> {
        self.wbs
            .lock()
            .ok()
            .and_then(|w| w.get(&(task, attempt)).cloned())
    }

    fn out(&self, direction: &str, event: &AgentEvent, extra: Option<(&str, &str)>) {
        let mut line = json!({
            "time": chrono::Utc::now(),
            "direction": direction,
            "event_type": event.body.event_type().as_str(),
            "event_id": event.event_id,
            "execution_id": event.execution_id,
            "task_id": event.task_id,
            "attempt": event.attempt,
            "wbs": self.wbs_of(event.task_id, event.attempt),
            "timestamp": event.timestamp,
            "status": event.status,
            "data": event.body.output(),
        });
        if let (Some((key, value)), Some(map)) = (extra, line.as_object_mut()) {
            map.insert(key.to_owned(), json!(value));
        }
        let _ = self.lines.send(line);
    }
}

impl Observer for EventLog {
    fn received(&self, message: &AgentMessage) {
        let line = match message {
            AgentMessage::Task(task) => {
                if let Ok(mut wbs) = self.wbs.lock() {
                    wbs.insert((task.task_id, task.attempt), task.wbs.clone());
                }
                json!({
                    "time": chrono::Utc::now(),
                    "direction": "in",
                    "event_type": "task",
                    "execution_id": task.execution_id,
                    "task_id": task.task_id,
                    "attempt": task.attempt,
                    "wbs": task.wbs,
                    "capability": task.capability,
                    "title": task.title,
                })
            }
            AgentMessage::Cancel(cancel) => json!({
                "time": chrono::Utc::now(),
                "direction": "in",
                "event_type": "cancel",
                "execution_id": cancel.execution_id,
                "task_id": cancel.task_id,
                "attempt": cancel.attempt,
                "wbs": self.wbs_of(cancel.task_id, cancel.attempt),
                "reason": cancel.reason,
            }),
        };
        let _ = self.lines.send(line);
    }

    fn delivered(&self, event: &AgentEvent) {
        self.out("out", event, None);
    }

    fn lost(&self, event: &AgentEvent, reason: &str) {
        self.out("lost", event, Some(("reason", reason)));
    }
}
