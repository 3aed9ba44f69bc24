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
use planexec_store::executions::{ExecutionRow, engine, materialise};
use planexec_store::plans;
use sqlx::PgConnection;

use super::effects::coordinator_event;
use super::work::{Item, LockMode, Work};
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
    /// Executions whose tasks were materialised in this transaction.
    pub materialised: HashSet<Id>,
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
        .filter(|i| i.work == Work::Wake)
        .map(|i| i.execution_id)
        .collect();
    let mut locked = Locked {
        rows: Vec::new(),
        asked: ids.len(),
        startable: HashMap::new(),
        materialised: HashSet::new(),
        history: Vec::new(),
    };
    for row in rows.iter().filter(|r| woken.contains(&r.id)) {
        if !matches!(
            row.status()?,
            ExecutionStatus::Created | ExecutionStatus::NeedsReview
        ) {
            continue;
        }
        let ready = plans::read::status(&mut *conn, row.plan_id)
            .await?
            .is_some_and(|s| s.is_startable());
        locked.startable.insert(row.id, ready);
        if ready {
            start(&mut *conn, row, now, options, &mut locked).await?;
        }
    }
    locked.rows = rows;
    Ok(locked)
}

/// Copies the plan's tasks into the execution, once.
async fn start(
    conn: &mut PgConnection,
    row: &ExecutionRow,
    now: Timestamp,
    options: &Options,
    locked: &mut Locked,
) -> Result<(), Error> {
    let defaults = materialise::TaskDefaults {
        timeout_seconds: options.task_timeout_seconds,
        max_attempts: options.retry.max_attempts,
    };
    if let Some((tasks, leaves)) =
        materialise::materialise(conn, row.id, row.plan_id, defaults).await?
    {
        locked.materialised.insert(row.id);
        locked.history.push(coordinator_event(
            row.id,
            None,
            None,
            now,
            CoordinatorEvent::TasksMaterialised { tasks, leaves },
        ));
    }
    Ok(())
}
