//! The agent directory the router sees: every agent's liveness and capabilities, cached.
//!
//! Reloaded from the database when older than a second or when invalidated (an agent
//! registered, went offline or came back), so routing never waits on more than one query.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::Error;
use crate::machine::AgentDirectory;

const MAX_AGE: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct Directory {
    cached: Mutex<Option<(Arc<AgentDirectory>, Instant)>>,
}

impl Directory {
    /// The directory, fresh enough for routing.
    pub async fn snapshot(&self, pool: &PgPool) -> Result<Arc<AgentDirectory>, Error> {
        if let Ok(cached) = self.cached.lock()
            && let Some((directory, at)) = cached.as_ref()
            && at.elapsed() < MAX_AGE
        {
            return Ok(directory.clone());
        }
        let mut directory = AgentDirectory::default();
        for (id, online, capabilities) in planexec_store::agents::directory(pool).await? {
            directory.insert(id, online, capabilities);
        }
        let directory = Arc::new(directory);
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((directory.clone(), Instant::now()));
        }
        Ok(directory)
    }

    /// Forgets the cache: the next snapshot reads the database.
    pub fn invalidate(&self) {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = None;
        }
    }
}
