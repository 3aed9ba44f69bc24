//! Approving a plan: the executions waiting for its review start.

use planexec_schemas::command::{ApprovePlan, CommandError, PlanApproved};
use planexec_store::executions::schedule;
use planexec_store::plans;

use super::reply::internal;
use crate::engine::{Engine, Item, LockMode, Work};

/// Approves the plan and releases its executions waiting for review.
pub(super) async fn approve(engine: &Engine, c: ApprovePlan) -> Result<PlanApproved, CommandError> {
    let mut tx = engine.pool().begin().await.map_err(internal)?;
    if !plans::edit::approve(&mut tx, c.plan_id)
        .await
        .map_err(internal)?
    {
        return Err(CommandError::not_found("plan", c.plan_id));
    }
    let waiting = schedule::wake_waiting_for_review(&mut tx, c.plan_id)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    if !waiting.is_empty() {
        engine
            .run(
                &waiting
                    .iter()
                    .map(|id| Item {
                        execution_id: *id,
                        work: Work::Wake,
                    })
                    .collect::<Vec<_>>(),
                LockMode::Wait,
            )
            .await
            .map_err(internal)?;
    }
    Ok(PlanApproved {
        plan_id: c.plan_id,
        released_executions: u32::try_from(waiting.len()).unwrap_or(u32::MAX),
    })
}
