//! The database circuit breaker: after repeated answers that PostgreSQL is out of reach, the API
//! answers 503 at once for a short while (`GatewayOptions::breaker_open`) instead of letting
//! every request wait for a connection; then one request at a time tries again, and the first
//! that reaches the database closes the breaker.
//!
//! `routes::breaker_guard` wraps every route but the process's own health (`/healthz`,
//! `/metrics`); `/readyz` reads its state to answer within a second. A request learns of a
//! database failure from the `Dependency` a 503 answer carries in its extensions
//! (`ApiError::Down`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Failures in a row that open the breaker.
const FAILURES_TO_OPEN: u32 = 2;

#[derive(Debug)]
pub struct Breaker {
    open_for: Duration,
    failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
}

impl Breaker {
    pub fn new(open_for: Duration) -> Self {
        Self {
            open_for,
            failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
        }
    }

    /// Whether requests are answered 503 without trying the database. When the open time is
    /// over, the first caller is let through (and the breaker stays open for the others until
    /// that one has an answer or the open time passes again).
    pub fn is_open(&self) -> bool {
        let Ok(mut until) = self.open_until.lock() else {
            return false;
        };
        match *until {
            Some(at) if Instant::now() < at => true,
            Some(_) => {
                *until = Some(Instant::now() + self.open_for);
                false
            }
            None => false,
        }
    }

    /// A request found the database out of reach.
    pub fn failed(&self) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= FAILURES_TO_OPEN
            && let Ok(mut until) = self.open_until.lock()
        {
            if until.is_none() {
                tracing::warn!(
                    open_for_ms = self.open_for.as_millis() as u64,
                    "PostgreSQL is out of reach: answering 503 at once for a while"
                );
                metrics::counter!("planexec_gateway_breaker_opened_total").increment(1);
            }
            *until = Some(Instant::now() + self.open_for);
        }
    }

    /// A request got through to the database.
    pub fn succeeded(&self) {
        if self.failures.swap(0, Ordering::Relaxed) > 0
            && let Ok(mut until) = self.open_until.lock()
            && until.take().is_some()
        {
            tracing::info!("PostgreSQL is reachable again: breaker closed");
        }
    }
}
