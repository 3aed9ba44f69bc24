//! After a run: what the history says happened, not what loadgen assumes. Every execution's
//! events are read back through the API; a task counts as completed when the history holds an
//! applied `task_complete` for it, as duplicated for every applied completion beyond its first,
//! and as lost when its execution does not hold one. Progress reports are counted on their own:
//! they are never completions.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use planexec_schemas::api::EventList;
use planexec_schemas::event::{Disposition, EventType, ExecutionEvent};
use planexec_schemas::{Id, Timestamp};
use serde::Serialize;

use super::latency::Latencies;
use crate::client::ApiClient;

/// Executions whose histories are read at once.
const READERS: usize = 16;

/// What the histories say.
#[derive(Debug, Default, Serialize)]
pub struct Verified {
    pub tasks_expected: usize,
    pub tasks_completed: usize,
    pub tasks_lost: usize,
    pub tasks_duplicated: usize,
    /// Events the coordinators rejected (stale attempts, duplicates caught by fencing).
    pub events_rejected: usize,
    /// Applied `task_progress` events.
    pub progress_recorded: usize,
    /// Every event of the histories, applied or rejected.
    pub events_recorded: usize,
    /// When each task's first applied completion was committed (for the steady-state window).
    #[serde(skip)]
    pub completed_at: Vec<Timestamp>,
}

/// Reads every execution's history; `completion` gets each task's time from the commit of its
/// dispatch to the commit of its completion.
pub async fn verify(
    api: &ApiClient,
    executions: &[Id],
    leaves: usize,
    completion: &Latencies,
) -> anyhow::Result<Verified> {
    let histories = futures::stream::iter(executions.iter().copied())
        .map(|id| history(api, id))
        .buffer_unordered(READERS);
    futures::pin_mut!(histories);
    let mut verified = Verified {
        tasks_expected: executions.len() * leaves,
        ..Verified::default()
    };
    while let Some(events) = histories.next().await {
        let events = events?;
        let figures = figures_of(&events, completion);
        verified.tasks_completed += figures.completed;
        verified.tasks_duplicated += figures.duplicated;
        verified.events_rejected += figures.rejected;
        verified.progress_recorded += figures.progress;
        verified.events_recorded += events.len();
        verified.completed_at.extend(figures.completed_at);
        verified.tasks_lost += leaves.saturating_sub(figures.completed);
    }
    Ok(verified)
}

struct Figures {
    completed: usize,
    duplicated: usize,
    rejected: usize,
    progress: usize,
    completed_at: Vec<Timestamp>,
}

fn figures_of(events: &[ExecutionEvent], completion: &Latencies) -> Figures {
    let mut completions: HashMap<Id, usize> = HashMap::new();
    let mut dispatched = HashMap::new();
    let mut rejected = 0;
    let mut progress = 0;
    let mut completed_at = Vec::new();
    for event in events {
        if event.disposition == Disposition::Rejected {
            rejected += 1;
            continue;
        }
        let Some(task) = event.task_id else { continue };
        match event.event_type {
            EventType::TaskDispatched => {
                dispatched.insert((task, event.attempt), event.recorded_at);
            }
            EventType::TaskProgress => progress += 1,
            EventType::TaskComplete => {
                let count = completions.entry(task).or_default();
                *count += 1;
                if *count == 1 {
                    completed_at.push(event.recorded_at);
                }
                if let Some(at) = dispatched.get(&(task, event.attempt))
                    && let Ok(took) = (event.recorded_at - *at).to_std()
                {
                    completion.record(took);
                }
            }
            _ => {}
        }
    }
    Figures {
        completed: completions.len(),
        duplicated: completions.values().map(|n| n - 1).sum(),
        rejected,
        progress,
        completed_at,
    }
}

/// One execution's whole history, oldest first.
async fn history(api: &ApiClient, execution: Id) -> anyhow::Result<Vec<ExecutionEvent>> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/executions/{execution}/events?limit=1000&disposition=all");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: EventList = retry(|| api.get(&path)).await?;
        events.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    events.reverse();
    Ok(events)
}

/// A read tried again a few times: the check must not report work as lost because one read of
/// a busy gateway failed.
pub(super) async fn retry<T, F, Fut>(read: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut tries = 0;
    loop {
        match read().await {
            Ok(value) => return Ok(value),
            Err(e) if tries >= 4 => return Err(e),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(200 << tries)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use planexec_schemas::event::EventSource;

    fn event(task: Id, kind: EventType, disposition: Disposition, ms: i64) -> ExecutionEvent {
        let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap();
        ExecutionEvent {
            id: planexec_schemas::new_id(),
            seq: ms,
            execution_id: Id::nil(),
            task_id: Some(task),
            agent_id: None,
            attempt: Some(1),
            event_type: kind,
            source: EventSource::Agent,
            disposition,
            reason: None,
            timestamp: at,
            recorded_at: at,
            output: serde_json::Value::Null,
        }
    }

    #[test]
    fn progress_reports_are_counted_but_are_not_completions() {
        let (a, b) = (planexec_schemas::new_id(), planexec_schemas::new_id());
        let mut events = vec![event(a, EventType::TaskDispatched, Disposition::Applied, 0)];
        for ms in 1..=20 {
            events.push(event(a, EventType::TaskProgress, Disposition::Applied, ms));
        }
        events.push(event(b, EventType::TaskProgress, Disposition::Applied, 30));
        events.push(event(a, EventType::TaskComplete, Disposition::Applied, 40));
        let figures = figures_of(&events, &Latencies::default());
        assert_eq!(
            figures.completed, 1,
            "b reported progress only: it is not complete"
        );
        assert_eq!(figures.duplicated, 0);
        assert_eq!(figures.progress, 21);
        assert_eq!(figures.completed_at.len(), 1);
    }

    #[test]
    fn a_second_applied_completion_is_a_duplicate_and_a_rejected_one_is_not() {
        let (a, b) = (planexec_schemas::new_id(), planexec_schemas::new_id());
        let events = vec![
            event(a, EventType::TaskDispatched, Disposition::Applied, 0),
            event(a, EventType::TaskComplete, Disposition::Applied, 40),
            event(a, EventType::TaskComplete, Disposition::Rejected, 50),
            event(b, EventType::TaskComplete, Disposition::Applied, 60),
            event(b, EventType::TaskComplete, Disposition::Applied, 70),
        ];
        let completion = Latencies::default();
        let figures = figures_of(&events, &completion);
        assert_eq!(figures.completed, 2);
        assert_eq!(figures.duplicated, 1);
        assert_eq!(figures.rejected, 1);
        let spread = completion.spread().expect("a's completion was timed");
        assert_eq!(spread.count, 1);
        assert!((spread.p50 - 40.0).abs() < 0.1);
    }
}
