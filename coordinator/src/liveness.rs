//! Signs of life of agents, kept in memory and flushed in batches, and what agents say they hold.
//!
//! A heartbeat, an event, a poll through the gateway: each only updates a map entry here. The
//! scheduler flushes the map every few seconds ([`planexec_store::agents::record_signs_of_life`])
//! and sweeps agents silent for too long offline. No row is written per beat.
//!
//! A heartbeat may also say how many tasks the agent holds. When it says none, the moment is
//! noted ([`Liveness::holding`]): an agent that crashed and came back under the same id holds
//! nothing, while the coordinator may still count tasks as running on it. The scheduler hands
//! those out again once every event the agent sent before saying so has been applied
//! ([`crate::scheduler`]), so that a completion still on its way is never overtaken.

use std::collections::HashMap;
use std::sync::Mutex;

use planexec_schemas::{Id, Timestamp};

#[derive(Debug, Default)]
pub struct Liveness {
    newest: Mutex<HashMap<Id, Timestamp>>,
    holdings: Mutex<HashMap<Id, Holding>>,
}

/// An agent that said it holds nothing, since when, and how far the events must be applied
/// before its running tasks count as lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Empty {
    pub agent: Id,
    /// The first heartbeat of the current run of "holding nothing".
    pub since: Timestamp,
    /// The events stream's last sequence once that was known; every event the agent sent before
    /// `since` is at or below it.
    pub watermark: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Holding {
    empty_since: Option<Timestamp>,
    watermark: Option<u64>,
    /// Its running tasks from before `empty_since` were looked at already.
    handled: bool,
}

impl Liveness {
    /// Notes that `agent` was alive at `at`.
    pub fn touch(&self, agent: Id, at: Timestamp) {
        if let Ok(mut newest) = self.newest.lock() {
            let entry = newest.entry(agent).or_insert(at);
            if *entry < at {
                *entry = at;
            }
        }
    }

    /// Everything noted since the last call.
    pub fn take(&self) -> Vec<(Id, Timestamp)> {
        self.newest
            .lock()
            .map(|mut newest| newest.drain().collect())
            .unwrap_or_default()
    }

    /// Notes a heartbeat of `agent` at `at` that says it holds `in_flight` tasks (`None`: it
    /// could not tell, which changes nothing).
    pub fn holding(&self, agent: Id, in_flight: Option<u32>, at: Timestamp) {
        self.touch(agent, at);
        let Some(in_flight) = in_flight else { return };
        let Ok(mut holdings) = self.holdings.lock() else {
            return;
        };
        if in_flight > 0 {
            holdings.remove(&agent);
            return;
        }
        holdings.entry(agent).or_insert(Holding {
            empty_since: Some(at),
            watermark: None,
            handled: false,
        });
    }

    /// Agents that have said they hold nothing since at least `grace` before `now`, and whose
    /// running tasks were not looked at since.
    pub fn empty(&self, now: Timestamp, grace: chrono::Duration) -> Vec<Empty> {
        let Ok(holdings) = self.holdings.lock() else {
            return Vec::new();
        };
        holdings
            .iter()
            .filter(|(_, h)| !h.handled)
            .filter_map(|(agent, h)| {
                let since = h.empty_since?;
                (since + grace <= now).then_some(Empty {
                    agent: *agent,
                    since,
                    watermark: h.watermark,
                })
            })
            .collect()
    }

    /// Records the events stream's last sequence for `agent`'s current empty run.
    pub fn set_watermark(&self, agent: Id, since: Timestamp, sequence: u64) {
        if let Ok(mut holdings) = self.holdings.lock()
            && let Some(h) = holdings.get_mut(&agent)
            && h.empty_since == Some(since)
        {
            h.watermark.get_or_insert(sequence);
        }
    }

    /// `agent`'s running tasks from before `since` were handed out again (or there were none).
    pub fn handled(&self, agent: Id, since: Timestamp) {
        if let Ok(mut holdings) = self.holdings.lock()
            && let Some(h) = holdings.get_mut(&agent)
            && h.empty_since == Some(since)
        {
            h.handled = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_is_empty_after_the_grace_until_it_holds_something_again() {
        let liveness = Liveness::default();
        let agent = planexec_schemas::new_id();
        let t0 = chrono::Utc::now();
        let grace = chrono::Duration::seconds(5);
        liveness.holding(agent, Some(0), t0);
        liveness.holding(agent, None, t0 + chrono::Duration::seconds(1));
        liveness.holding(agent, Some(0), t0 + chrono::Duration::seconds(2));
        assert!(
            liveness
                .empty(t0 + chrono::Duration::seconds(4), grace)
                .is_empty()
        );
        let empty = liveness.empty(t0 + grace, grace);
        assert_eq!(empty.len(), 1);
        assert_eq!(
            empty[0].since, t0,
            "the run of zeros starts at its first heartbeat"
        );
        liveness.set_watermark(agent, t0, 42);
        assert_eq!(liveness.empty(t0 + grace, grace)[0].watermark, Some(42));
        liveness.handled(agent, t0);
        assert!(liveness.empty(t0 + grace, grace).is_empty());

        liveness.holding(agent, Some(2), t0 + chrono::Duration::seconds(6));
        liveness.holding(agent, Some(0), t0 + chrono::Duration::seconds(7));
        let again = liveness.empty(t0 + chrono::Duration::seconds(20), grace);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].since, t0 + chrono::Duration::seconds(7));
        assert_eq!(again[0].watermark, None);
    }
}
