//! The steady state of an open-loop run: over one window of the arrivals, the rate tasks were
//! offered at and the rate they were completed at.
//!
//! The rate over the whole wall time also holds the pipeline filling and draining, so it stays
//! below the offered rate even when planexec keeps up; and with Poisson arrivals the rate
//! actually offered differs from `--rate` by a few percent. In the window both are counted from
//! the database's timestamps (an execution's `created_at` brings `--leaves` tasks, a task's
//! first completion's `recorded_at` takes one away): a ratio near 1 says planexec kept up, a
//! lower one that a backlog grew.

use planexec_schemas::Timestamp;
use serde::Serialize;

/// Share of the arrivals' span left out at its start, while the pipeline fills.
const WARM_UP: f64 = 0.2;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Steady {
    /// From 20 % into the arrivals to the last arrival.
    pub window_seconds: f64,
    /// Tasks of the executions created in the window, per second.
    pub offered_tasks_per_second: f64,
    /// Tasks completed in the window, per second.
    pub completed_tasks_per_second: f64,
    /// Completed over offered.
    pub ratio: f64,
}

/// The window's rates; `None` without a span of arrivals to measure over.
pub fn steady(arrivals: &[Timestamp], leaves: usize, completions: &[Timestamp]) -> Option<Steady> {
    let (first, last) = (*arrivals.iter().min()?, *arrivals.iter().max()?);
    let span = (last - first).num_microseconds()? as f64;
    let start = first + chrono::Duration::microseconds((span * WARM_UP) as i64);
    let window_seconds = span * (1.0 - WARM_UP) / 1e6;
    if window_seconds <= 0.0 {
        return None;
    }
    let inside = |t: &&Timestamp| **t >= start && **t <= last;
    let offered = (arrivals.iter().filter(inside).count() * leaves) as f64 / window_seconds;
    let completed = completions.iter().filter(inside).count() as f64 / window_seconds;
    Some(Steady {
        window_seconds,
        offered_tasks_per_second: offered,
        completed_tasks_per_second: completed,
        ratio: if offered > 0.0 {
            completed / offered
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    #[test]
    fn a_pipeline_that_keeps_up_completes_what_was_offered_in_the_window() {
        // An execution of 2 tasks every 100 ms for 10 s; each task done 1 s later.
        let arrivals: Vec<_> = (0..100).map(|n| at(n * 100)).collect();
        let completions: Vec<_> = (0..100)
            .flat_map(|n| [at(n * 100 + 1000), at(n * 100 + 1000)])
            .collect();
        let s = steady(&arrivals, 2, &completions).expect("a window");
        assert!(
            (s.window_seconds - 7.92).abs() < 0.01,
            "{}",
            s.window_seconds
        );
        assert!((s.ratio - 1.0).abs() < 0.03, "ratio {}", s.ratio);
        assert!((s.offered_tasks_per_second - 20.0).abs() < 0.5);
    }

    #[test]
    fn a_backlog_shows_as_a_ratio_below_one_and_one_arrival_has_no_window() {
        let arrivals: Vec<_> = (0..100).map(|n| at(n * 100)).collect();
        // Completions at half the offered pace.
        let completions: Vec<_> = (0..100).map(|n| at(n * 100 + 500)).collect();
        let s = steady(&arrivals, 2, &completions).expect("a window");
        assert!((s.ratio - 0.5).abs() < 0.03, "ratio {}", s.ratio);
        assert!(steady(&[at(0)], 2, &completions).is_none());
        assert!(steady(&[], 2, &completions).is_none());
    }
}
