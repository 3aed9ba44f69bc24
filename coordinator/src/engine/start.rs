//! Phase 1 of a transaction: lock the executions, and materialise the tasks of those that start.
//!
//! Rows are locked in id order, so two transactions never deadlock; the scheduler skips the
//! ones another transaction holds. A woken execution that has not started yet starts here if its
//! plan allows it (ready, or approved after review): its tasks are copied from the plan in this
//! same transaction.

use std::collections::{HashMap, HashSet};

use planexec_schemas::event::CoordinatorEvent;
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::{Id, Timestamp};
use planexec_store::events::NewEvent;
use planexec_store::executions::engine::NodeRow;
use planexec_store::executions::{ExecutionRow, engine, materialise};
use planexec_store::plans;
use sqlx::PgConnection;

use super::effects::coordinator_event;
use super::work::{Item, LockMode};
use crate::{Error, Options};

/// The executions this transaction holds.
#[derive(Debug)]
pub(super) struct Locked {
    pub rows: Vec<ExecutionRow>,
    /// How many distinct executions were asked for (more than `rows` when some are unknown or,
    /// skipping locked rows, busy).
    pub asked: usize,
    /// For woken executions waiting to start: whether their plan lets them start.
    pub startable: HashMap<Id, bool>,
    /// Executions whose tasks were materialised in this transaction, with the rows written
    /// (the load phase takes them instead of reading them back).
    pub materialised: HashMap<Id, Vec<NodeRow>>,
    /// The history of those materialisations.
    pub history: Vec<NewEvent>,
}

/// Locks the executions `items` name and starts the woken ones that may start.
pub(super) async fn lock_and_start(
    conn: &mut PgConnection,
    items: &[Item],
    mode: LockMode,
    now: Timestamp,
    options: &Options,
) -> Result<Locked, Error> {
    let mut ids: Vec<Id> = items.iter().map(|i| i.execution_id).collect();
    ids.sort();
    ids.dedup();
    let rows = match mode {
        LockMode::Wait => engine::lock(&mut *conn, &ids).await?,
        LockMode::SkipLocked => engine::lock_skip_locked(&mut *conn, &ids).await?,
    };
    let woken: HashSet<Id> = items
        .iter()
        .filter(|i| i.work.is_wake())
        .map(|i| i.execution_id)
        .collect();
    let mut locked = Locked {
        rows: Vec::new(),
        asked: ids.len(),
        startable: HashMap::new(),
        materialised: HashMap::new(),
        history: Vec::new(),
    };
    // Each plan's status read once, however many of its executions wake.
    let mut plan_ready: HashMap<Id, bool> = HashMap::new();
    let mut starting = Vec::new();
    for row in rows.iter().filter(|r| woken.contains(&r.id)) {
        if !matches!(
            row.status()?,
            ExecutionStatus::Created | ExecutionStatus::NeedsReview
        ) {
            continue;
        }
        let ready = match plan_ready.get(&row.plan_id) {
            Some(ready) => *ready,
            None => {
                let ready = plans::read::status(&mut *conn, row.plan_id)
                    .await?
                    .is_some_and(|s| s.is_startable());
                plan_ready.insert(row.plan_id, ready);
                ready
            }
        };
        locked.startable.insert(row.id, ready);
        if ready {
            starting.push((row.id, row.plan_id));
        }
    }
    if !starting.is_empty() {
        start(&mut *conn, &starting, now, options, &mut locked).await?;
    }
    locked.rows = rows;
    Ok(locked)
}

/// Copies the plans' tasks into the executions `starting` names, once.
async fn start(
    conn: &mut PgConnection,
    starting: &[(Id, Id)],
    now: Timestamp,
    options: &Options,
    locked: &mut Locked,
) -> Result<(), Error> {
    let defaults = materialise::TaskDefaults {
        timeout_seconds: options.task_timeout_seconds,
        max_attempts: options.retry.max_attempts,
    };
    let mut written = materialise::materialise_many(conn, starting, defaults).await?;
    // In the order asked, so the history is the same whatever the map's order.
    for (id, _) in starting {
        let Some(copy) = written.remove(id) else {
            continue;
        };
        locked.history.push(coordinator_event(
            *id,
            None,
            None,
            now,
            CoordinatorEvent::TasksMaterialised {
                tasks: copy.tasks,
                leaves: copy.leaves,
            },
        ));
        locked.materialised.insert(*id, copy.nodes);
    }
    Ok(())
}
