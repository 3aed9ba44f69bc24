//! Signs of life of agents, kept in memory and flushed in batches.
//!
//! A heartbeat, an event, a poll through the gateway: each only updates a map entry here. The
//! scheduler flushes the map every few seconds ([`planexec_store::agents::record_signs_of_life`])
//! and sweeps agents silent for too long offline. No row is written per beat.

use std::collections::HashMap;
use std::sync::Mutex;

use planexec_schemas::{Id, Timestamp};

#[derive(Debug, Default)]
pub struct Liveness {
    newest: Mutex<HashMap<Id, Timestamp>>,
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
}
