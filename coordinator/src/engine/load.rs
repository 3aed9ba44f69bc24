//! Phase 2 of a transaction: the state of every locked execution, from the cache when this
//! replica saw it last at the version now locked, else built from its stored tasks; and the
//! event ids already recorded (in the history, or in its archive for an execution that ended),
//! so that a redelivered event is dropped before the machine.

use std::collections::{HashMap, HashSet};

use planexec_schemas::Id;
use planexec_store::archive;
use planexec_store::events::{self, NewEvent};
use planexec_store::executions::ExecutionRow;
use planexec_store::executions::engine;
use sqlx::PgConnection;

use super::cache::StateCache;
use super::effects::Effects;
use super::start::Locked;
use super::state;
use super::work::{Item, Work};
use crate::Error;
use crate::machine::ExecutionState;

/// One locked execution in the batch.
#[derive(Debug)]
pub(super) struct Entry {
    pub row: ExecutionRow,
    /// The state as loaded, to find what changed.
    pub before: ExecutionState,
    pub state: ExecutionState,
    pub effects: Effects,
}

/// Everything one transaction works on.
#[derive(Debug)]
pub(super) struct Batch {
    pub entries: HashMap<Id, Entry>,
    /// Executions asked for (some may be unknown, or busy when skipping locked rows).
    pub asked: usize,
    /// For woken executions waiting to start: whether their plan lets them start.
    pub startable: HashMap<Id, bool>,
    /// Agent event ids already recorded, and those recorded in this batch.
    pub seen: HashSet<Id>,
    /// The history rows of the batch, in the order they happened.
    pub history: Vec<NewEvent>,
}

/// The states of the locked executions, and the ids of `items`' events already recorded.
pub(super) async fn load(
    conn: &mut PgConnection,
    locked: Locked,
    items: &[Item],
    cache: &StateCache,
) -> Result<Batch, Error> {
    // Only executions changed elsewhere since this replica last saw them are loaded; those that
    // started in this transaction come with the rows their materialisation wrote.
    let mut nodes = locked.materialised;
    let mut cached: HashMap<Id, ExecutionState> = locked
        .rows
        .iter()
        .filter(|r| !nodes.contains_key(&r.id))
        .filter_map(|r| Some((r.id, cache.take(r.id, r.version)?)))
        .collect();
    let to_load: Vec<Id> = locked
        .rows
        .iter()
        .map(|r| r.id)
        .filter(|id| !cached.contains_key(id) && !nodes.contains_key(id))
        .collect();
    if !to_load.is_empty() {
        nodes.extend(engine::load_nodes(&mut *conn, &to_load).await?);
    }
    let mut entries = HashMap::with_capacity(locked.rows.len());
    for row in locked.rows {
        let state = match cached.remove(&row.id) {
            Some(state) => state,
            None => state::build(&row, &nodes.remove(&row.id).unwrap_or_default())?,
        };
        let entry = Entry {
            row,
            before: state.clone(),
            state,
            effects: Effects::default(),
        };
        entries.insert(entry.row.id, entry);
    }
    let seen = recorded(conn, &entries, items).await?;
    Ok(Batch {
        entries,
        asked: locked.asked,
        startable: locked.startable,
        seen,
        history: locked.history,
    })
}

/// The ids of `items`' agent events already recorded: in the live history, or, for an execution
/// that ended (only those have any), in the archive.
async fn recorded(
    conn: &mut PgConnection,
    entries: &HashMap<Id, Entry>,
    items: &[Item],
) -> Result<HashSet<Id>, Error> {
    let mut event_ids = Vec::new();
    let mut ended = Vec::new();
    let mut ended_event_ids = Vec::new();
    for item in items {
        let Work::Agent { event, .. } = &item.work else {
            continue;
        };
        event_ids.push(event.event_id);
        let has_ended = entries
            .get(&item.execution_id)
            .and_then(|e| e.row.status().ok())
            .is_some_and(|s| s.is_terminal());
        if has_ended {
            ended.push(item.execution_id);
            ended_event_ids.push(event.event_id);
        }
    }
    let mut seen = events::seen(&mut *conn, &event_ids).await?;
    if !ended.is_empty() {
        ended.sort_unstable();
        ended.dedup();
        seen.extend(archive::seen(&mut *conn, &ended, &ended_event_ids).await?);
    }
    Ok(seen)
}
