//! Latency samples as HDR histograms (microsecond resolution, 3 significant digits), so that a
//! run of millions of tasks costs a few kilobytes and percentiles stay exact to 0.1 %.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Percentiles of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub count: u64,
}

/// A histogram several tasks record into.
#[derive(Debug, Clone)]
pub struct Latencies(Arc<Mutex<Histogram<u64>>>);

impl Default for Latencies {
    fn default() -> Self {
        // Up to an hour; anything longer is clamped to it (and visible as the max).
        let histogram = Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
        Self(Arc::new(Mutex::new(histogram)))
    }
}

impl Latencies {
    pub fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if let Ok(mut h) = self.0.lock() {
            h.saturating_record(micros.max(1));
        }
    }

    /// The percentiles, `None` when nothing was recorded.
    pub fn spread(&self) -> Option<Spread> {
        let h = self.0.lock().ok()?;
        if h.is_empty() {
            return None;
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Some(Spread {
            p50: ms(h.value_at_quantile(0.5)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            count: h.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_sample() {
        let latencies = Latencies::default();
        for ms in 1..=100u64 {
            latencies.record(Duration::from_millis(ms));
        }
        let spread = latencies.spread().expect("a sample");
        assert_eq!(spread.count, 100);
        assert!((spread.p50 - 50.0).abs() < 0.1, "p50 {}", spread.p50);
        assert!((spread.p99 - 99.0).abs() < 0.1, "p99 {}", spread.p99);
        assert!((spread.max - 100.0).abs() < 0.1, "max {}", spread.max);
        assert!(Latencies::default().spread().is_none());
    }
}
