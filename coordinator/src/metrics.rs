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

pub fn dead_letter() {
    counter!("planexec_coordinator_dead_letters_total").increment(1);
}

/// The events stream was started anew after missed heartbeats (see `ingest::MIN_PULL`).
pub fn pull_restarted() {
    counter!("planexec_coordinator_pull_restarts_total").increment(1);
}
