//! Back-off between attempts to reach a server that is away: exponential, with jitter so that
//! a fleet of agents does not reconnect in step, and capped by the poll-interval setting
//! (`PLANEXE_AGENT_POLL_INTERVAL_SECONDS`) so that an agent comes back within that time.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// The shape of a back-off: from `min`, doubling, never above `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min: min.min(max),
            max,
        }
    }

    /// A fresh schedule: call [`Schedule::next_delay`] after each failure, make a new one after
    /// a success.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            inner: ExponentialBuilder::new()
                .with_min_delay(self.min)
                .with_max_delay(self.max)
                .with_factor(2.0)
                .with_jitter()
                .without_max_times()
                .build(),
            max: self.max,
        }
    }
}

/// Successive delays of one run of failures.
#[derive(Debug)]
pub(crate) struct Schedule {
    inner: ExponentialBackoff,
    max: Duration,
}

impl Schedule {
    /// The wait before the next try; jitter never takes it past the cap.
    pub fn next_delay(&mut self) -> Duration {
        self.inner.next().unwrap_or(self.max).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_but_never_pass_the_cap() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut schedule = backoff.schedule();
        let delays: Vec<Duration> = (0..20).map(|_| schedule.next_delay()).collect();
        assert!(
            delays.iter().all(|d| *d <= Duration::from_secs(2)),
            "{delays:?}"
        );
        assert!(delays[0] >= Duration::from_millis(100));
        assert!(delays[19] >= Duration::from_secs(1), "it grows: {delays:?}");
    }

    #[test]
    fn a_minimum_above_the_cap_is_lowered_to_the_cap() {
        let backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(1));
        assert_eq!(backoff.schedule().next_delay(), Duration::from_secs(1));
    }
}
