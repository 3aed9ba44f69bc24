//! Counters and histograms of the coordinator, exported by whoever installs a recorder
//! (`planexec up` and `planexec coordinator` serve them as Prometheus text).

use std::time::Duration;

use metrics::{counter, histogram};

/// One engine transaction: its size, what became of each item (by the outcome's label), how
/// long it took.
pub fn batch(items: usize, outcomes: impl Iterator<Item = &'static str>, took: Duration) {
    histogram!("planexec_coordinator_batch_items").record(items as f64);
    histogram!("planexec_coordinator_batch_seconds").record(took.as_secs_f64());
    for outcome in outcomes {
        counter!("planexec_coordinator_items_total", "outcome" => outcome).increment(1);
    }
}

pub fn dispatched(count: usize) {
    counter!("planexec_coordinator_dispatches_total").increment(count as u64);
}

/// Events moved from the history to its archive (`archival`); 0 makes the series exist.
pub fn events_archived(count: u64) {
    counter!("planexec_events_archived_total").increment(count);
}

pub fn dead_letter() {
    counter!("planexec_coordinator_dead_letters_total").increment(1);
}

/// The events stream was started anew after missed heartbeats (see `ingest::MIN_PULL`).
pub fn pull_restarted() {
    counter!("planexec_coordinator_pull_restarts_total").increment(1);
}

/// Seconds from a dispatch's commit to JetStream's confirmation of it.
pub fn dispatch_latency(seconds: f64) {
    histogram!("planexec_dispatch_latency_seconds").record(seconds.max(0.0));
}

/// What a committed batch recorded: every history row by type and disposition, rejections by
/// their reason code, and the retries and time-outs among them.
pub fn history(rows: &[planexec_store::events::NewEvent]) {
    use planexec_schemas::event::{Disposition, EventType};
    for row in rows {
        let kind = row.event_type.as_str();
        match row.disposition {
            Disposition::Applied | Disposition::Duplicate => {
                counter!("planexec_events_total", "type" => kind, "disposition" => "applied")
                    .increment(1);
            }
            Disposition::Rejected => {
                counter!("planexec_events_total", "type" => kind, "disposition" => "rejected")
                    .increment(1);
                let reason = row
                    .reason
                    .as_deref()
                    .and_then(|r| r.split(':').next())
                    .unwrap_or("unknown")
                    .to_owned();
                counter!("planexec_events_rejected_total", "type" => kind, "reason" => reason)
                    .increment(1);
            }
        }
        match row.event_type {
            EventType::TaskRetryScheduled => counter!("planexec_task_retries_total").increment(1),
            EventType::TaskTimedOut => counter!("planexec_task_timeouts_total").increment(1),
            EventType::TaskGaveUp => counter!("planexec_task_gave_up_total").increment(1),
            _ => {}
        }
    }
}

/// Durations of what a committed change finished: leaves that completed or failed (started to
/// finished, by outcome) and the execution itself when it reached an end.
pub fn finished(before: &crate::machine::ExecutionState, after: &crate::machine::ExecutionState) {
    use planexec_schemas::execution::TaskStatus;
    for (a, b) in after.nodes.iter().zip(&before.nodes) {
        if !a.spec.is_leaf || a.status == b.status {
            continue;
        }
        let outcome = match a.status {
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            _ => continue,
        };
        if let (Some(start), Some(end)) = (a.started_at, a.finished_at) {
            histogram!("planexec_task_duration_seconds", "outcome" => outcome)
                .record(seconds(start, end));
        }
    }
    if after.status != before.status && after.status.is_terminal() {
        counter!("planexec_executions_finished_total", "status" => after.status.as_str())
            .increment(1);
        if let (Some(start), Some(end)) = (after.started_at, after.finished_at) {
            histogram!("planexec_execution_duration_seconds", "status" => after.status.as_str())
                .record(seconds(start, end));
        }
    }
}

fn seconds(start: planexec_schemas::Timestamp, end: planexec_schemas::Timestamp) -> f64 {
    ((end - start).num_milliseconds() as f64 / 1000.0).max(0.0)
}

/// One webhook attempt, by event and outcome (`delivered`, `retried`, `failed`).
pub fn webhook_delivery(event: &str, outcome: &'static str) {
    counter!("planexec_webhook_deliveries_total", "event" => event.to_owned(), "outcome" => outcome)
        .increment(1);
}
