//! Executions and their tasks, split by who calls: the API reads ([`read`]), the coordinator's
//! transaction ([`engine`]: lock, load, save, and the confirmation of publications after it),
//! the start of an execution ([`materialise`]: its tasks copied from the plan), and the
//! scheduler's view of time ([`schedule`]: creating an execution, due ones, the ones agents or a
//! review affect).
//!
//! Only the coordinator calls the writes, inside a transaction that holds the execution's row
//! lock; the gateway calls only [`read`].

pub mod engine;
pub mod materialise;
pub mod read;
pub mod schedule;

use planexec_schemas::execution::{
    BlockedReason, CurrentTask, Execution, ExecutionStatus, RoutingPolicy,
};
use planexec_schemas::{Id, Timestamp};

use crate::Error;
use crate::rows::{blocked_reason, execution_status, routing, u32_of};

/// An execution row, as the coordinator loads it under lock.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExecutionRow {
    pub id: Id,
    pub plan_id: Id,
    pub agent_id: Id,
    pub status: String,
    pub progress: f64,
    pub current_task_id: Option<Id>,
    pub current_task_wbs: Option<String>,
    pub current_task_title: Option<String>,
    pub blocked_reason: Option<String>,
    pub blocked_detail: Option<String>,
    pub max_parallel: i32,
    pub routing: String,
    pub leaves_total: i32,
    pub leaves_done: i32,
    pub version: i64,
    pub next_wakeup_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// When its history moved to the archive (see `crate::archive`).
    pub events_archived_at: Option<Timestamp>,
}

pub(crate) const EXECUTION_COLUMNS: &str = "id, plan_id, agent_id, status, progress, current_task_id, current_task_wbs, \
     current_task_title, blocked_reason, blocked_detail, max_parallel, routing, leaves_total, leaves_done, \
     version, next_wakeup_at, created_at, updated_at, started_at, finished_at, events_archived_at";

/// The statuses of an execution that may hold tasks on agents: it started and has not ended.
/// Readers of the tasks in flight go through these executions (bound as `$n::text[]`), since no
/// index reads a task's status: one would keep the tasks' updates from being HOT.
pub(crate) const IN_FLIGHT_STATUSES: [&str; 4] = ["QUEUED", "RUNNING", "PAUSED", "BLOCKED"];

impl ExecutionRow {
    pub fn status(&self) -> Result<ExecutionStatus, Error> {
        execution_status(&self.status)
    }

    pub fn blocked_reason(&self) -> Result<Option<BlockedReason>, Error> {
        blocked_reason(self.blocked_reason.as_deref())
    }

    pub fn routing(&self) -> Result<RoutingPolicy, Error> {
        routing(&self.routing)
    }

    /// The API view.
    pub fn to_execution(&self) -> Result<Execution, Error> {
        let current_task = match (
            self.current_task_id,
            &self.current_task_wbs,
            &self.current_task_title,
        ) {
            (Some(id), Some(wbs), Some(title)) => Some(CurrentTask {
                id,
                wbs: wbs.clone(),
                title: title.clone(),
            }),
            _ => None,
        };
        Ok(Execution {
            id: self.id,
            plan_id: self.plan_id,
            agent_id: self.agent_id,
            status: self.status()?,
            progress: self.progress,
            current_task,
            blocked_reason: self.blocked_reason()?,
            blocked_detail: self.blocked_detail.clone(),
            max_parallel: u32_of(self.max_parallel),
            routing: self.routing()?,
            leaves_total: u32_of(self.leaves_total),
            leaves_done: u32_of(self.leaves_done),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            events_archived_at: self.events_archived_at,
        })
    }
}

/// Which table a node lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeTable {
    Tasks,
    Subtasks,
}
