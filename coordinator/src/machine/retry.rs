//! The whole retry policy of the coordinator: how many attempts a leaf gets, how long it waits
//! between them, what a lease running out does to an attempt, and what spending the last
//! attempt does to the execution.
//!
//! - A failed attempt ([`task_failed`], or a lease that ran out: `timeout_error`) counts as a
//!   failure (`RetryPolicy::after_failure`). If the failure may be retried and attempts are
//!   left, the leaf waits in `retry_wait` for the back-off (or the agent's
//!   `retry_after_seconds`, when longer), then becomes ready again. Otherwise it fails, and
//!   `failure_reason` says why its execution is BLOCKED: `retries_exhausted` when the attempts
//!   are spent, `task_failed` when the agent gave up.
//! - The back-off before attempt `n + 1` after `n` failures is
//!   `min(initial_backoff_seconds * multiplier^(n-1), max_backoff_seconds)`, the same for every
//!   replica and every run (the machine reads no clock and draws no random numbers).
//! - [`RetryPolicy::DEFAULT`] is the one place the defaults live; the CLI's flags start from
//!   it, and agents are told the policy of their task in its assignment
//!   ([`RetryPolicy::wire`]; `planexec_schemas::task::RetryPolicy` is only that wire shape).
//!
//! [`task_failed`]: planexec_schemas::event::AgentEventBody::TaskFailed

use std::time::Duration as StdDuration;

use chrono::Duration;
use planexec_schemas::Timestamp;
use planexec_schemas::execution::{BlockedReason, TaskStatus};
use planexec_schemas::task;

use super::state::Node;

/// How often and how patiently a failed leaf is tried again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, for a task that does not set its own; after the
    /// last failure the execution is BLOCKED (`retries_exhausted`).
    pub max_attempts: u32,
    /// The wait after the first failure.
    pub initial_backoff_seconds: f64,
    /// Each further wait is this many times the one before.
    pub multiplier: f64,
    /// The longest wait between two attempts.
    pub max_backoff_seconds: f64,
}

impl RetryPolicy {
    /// The documented defaults: 3 attempts, waits of 2 s, 4 s, ... up to 5 minutes.
    pub const DEFAULT: Self = Self {
        max_attempts: 3,
        initial_backoff_seconds: 2.0,
        multiplier: 2.0,
        max_backoff_seconds: 300.0,
    };

    /// The policy of one task, which sets its own number of attempts.
    pub fn with_attempts(self, max_attempts: u32) -> Self {
        Self {
            max_attempts,
            ..self
        }
    }

    /// The wait after `failures` failed attempts (1 for the first failure).
    pub fn backoff(&self, failures: u32) -> StdDuration {
        let exponent = failures.saturating_sub(1).min(64) as i32;
        let seconds = (self.initial_backoff_seconds * self.multiplier.powi(exponent))
            .min(self.max_backoff_seconds)
            .max(0.0);
        StdDuration::from_secs_f64(if seconds.is_finite() {
            seconds
        } else {
            self.max_backoff_seconds.max(0.0)
        })
    }

    /// Whether another attempt is allowed after `failures` failures.
    pub fn allows_another(&self, failures: u32) -> bool {
        failures < self.max_attempts
    }

    /// The policy as an agent reads it in its assignment.
    pub fn wire(&self) -> task::RetryPolicy {
        task::RetryPolicy {
            max_attempts: self.max_attempts,
            initial_backoff_seconds: self.initial_backoff_seconds,
            multiplier: self.multiplier,
            max_backoff_seconds: self.max_backoff_seconds,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What comes of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterFailure {
    /// The leaf waits in `retry_wait` until then, and is dispatched again.
    RetryAt(Timestamp),
    /// The leaf fails; its execution is BLOCKED until an operator decides.
    GiveUp,
}

impl RetryPolicy {
    /// What comes of a leaf's `failures`-th failure at `now`: `retryable` is false when the
    /// agent said retrying cannot help, `wish` the wait it asked for.
    pub(super) fn after_failure(
        &self,
        failures: u32,
        retryable: bool,
        wish: Option<Duration>,
        now: Timestamp,
    ) -> AfterFailure {
        if !retryable || !self.allows_another(failures) {
            return AfterFailure::GiveUp;
        }
        let backoff = Duration::from_std(self.backoff(failures)).unwrap_or(Duration::zero());
        AfterFailure::RetryAt(now + wish.map_or(backoff, |w| w.max(backoff)))
    }
}

/// The error an attempt whose lease ran out (in `status`) fails with; it may be retried.
pub(super) fn timeout_error(attempt: u32, status: TaskStatus) -> String {
    let what = if status == TaskStatus::Running {
        "running"
    } else {
        "waiting in the agent's queue"
    };
    format!("attempt {attempt} timed out while {what}")
}

/// Why the failed leaf `node` blocks its execution.
pub(super) fn failure_reason(policy: &RetryPolicy, node: &Node) -> BlockedReason {
    if policy
        .with_attempts(node.spec.max_attempts)
        .allows_another(node.failures)
    {
        BlockedReason::TaskFailed
    } else {
        BlockedReason::RetriesExhausted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_the_first_and_stops_at_the_longest() {
        let policy = RetryPolicy::DEFAULT;
        let waits: Vec<u64> = (1..=10).map(|f| policy.backoff(f).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }

    #[test]
    fn a_failure_is_retried_while_attempts_are_left_and_the_agent_may_only_lengthen_the_wait() {
        let policy = RetryPolicy::DEFAULT.with_attempts(2);
        let now = chrono::Utc::now();
        let retry = |wish| policy.after_failure(1, true, wish, now);
        assert_eq!(
            retry(None),
            AfterFailure::RetryAt(now + Duration::seconds(2))
        );
        let longer = Some(Duration::seconds(30));
        assert_eq!(
            retry(longer),
            AfterFailure::RetryAt(now + Duration::seconds(30))
        );
        let shorter = Some(Duration::milliseconds(10));
        assert_eq!(
            retry(shorter),
            AfterFailure::RetryAt(now + Duration::seconds(2))
        );
        assert_eq!(
            policy.after_failure(1, false, None, now),
            AfterFailure::GiveUp
        );
        assert_eq!(
            policy.after_failure(2, true, None, now),
            AfterFailure::GiveUp
        );
    }
}
