//! Commands about executions: create one, change its status (pause, resume, cancel), move
//! tasks to another agent, resolve a failed task.

use planexec_schemas::command::{
    CommandError, CreateExecution, Reassign, ResolveAction, ResolveTask, UpdateExecutionStatus,
};
use planexec_schemas::event::CoordinatorEvent;
use planexec_schemas::execution::{Execution, ExecutionStatus, RoutingPolicy};
use planexec_schemas::validate::{FieldError, Validate, limits};
use planexec_schemas::{Id, new_id};
use planexec_store::executions::read;
use planexec_store::executions::schedule::{self, NewExecution};
use planexec_store::{agents, events, plans};

use super::reply::internal;
use crate::engine::{Engine, Item, LockMode, Outcome, Work, coordinator_event};
use crate::machine::{Input, Rejection, Resolution};

/// The execution as it stands now.
async fn read_execution(engine: &Engine, id: Id) -> Result<Execution, CommandError> {
    read::get(engine.pool(), id)
        .await
        .map_err(internal)?
        .ok_or_else(|| CommandError::not_found("execution", id))
}

/// A rejection of an operator's command, as the error the operator sees.
fn refused(rejection: Rejection) -> CommandError {
    match rejection {
        Rejection::InvalidTransition(e) => CommandError::InvalidTransition {
            current: e.from,
            requested: e.to,
            allowed: e.allowed.to_vec(),
        },
        other => CommandError::Conflict {
            message: other.to_string(),
        },
    }
}

/// Runs one operator command against one execution.
async fn operate(engine: &Engine, execution: Id, input: Input) -> Result<Execution, CommandError> {
    let item = Item {
        execution_id: execution,
        work: Work::Operator(input),
    };
    let result = engine
        .run(&[item], LockMode::Wait)
        .await
        .map_err(internal)?
        .remove(0);
    match result.outcome {
        Outcome::UnknownExecution => Err(CommandError::not_found("execution", execution)),
        Outcome::Rejected(rejection) => Err(refused(rejection)),
        _ => read_execution(engine, execution).await,
    }
}

/// Creates an execution of a plan for an agent; it starts at once (or waits for review).
pub(super) async fn create(engine: &Engine, c: CreateExecution) -> Result<Execution, CommandError> {
    if !engine.options().execution_enabled {
        return Err(CommandError::Disabled {
            message: "execution is switched off (PLANEXE_EXECUTION_ENABLED=false)".into(),
        });
    }
    let max_parallel = c.max_parallel.unwrap_or(1);
    if !(1..=limits::MAX_PARALLEL).contains(&max_parallel) {
        return Err(CommandError::invalid(
            "max_parallel",
            format!("must be between 1 and {}", limits::MAX_PARALLEL),
        ));
    }
    let pool = engine.pool();
    if plans::read::status(pool, c.plan_id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(CommandError::not_found("plan", c.plan_id));
    }
    if agents::get(pool, c.agent_id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(CommandError::not_found("agent", c.agent_id));
    }
    let new = NewExecution {
        id: c.id.unwrap_or_else(new_id),
        plan_id: c.plan_id,
        agent_id: c.agent_id,
        max_parallel,
        routing: c.routing.unwrap_or(RoutingPolicy::Agent),
    };
    let mut tx = pool.begin().await.map_err(internal)?;
    let Some(row) = schedule::insert(&mut *tx, &new).await.map_err(internal)? else {
        tx.rollback().await.map_err(internal)?;
        return created_before(engine, &new).await;
    };
    let created = CoordinatorEvent::ExecutionCreated {
        plan_id: c.plan_id,
        agent_id: c.agent_id,
    };
    let event = coordinator_event(row.id, None, None, row.created_at, created);
    events::insert(&mut tx, &[event]).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let execution = row.to_execution().map_err(internal)?;
    // Start it now rather than at the scheduler's next tick; the answer is the CREATED row.
    // The start keeps the command's trace: the first dispatches belong to the request.
    engine.start_soon(new.id);
    Ok(execution)
}

/// The answer to a creation sent again (its first answer was lost): the execution created
/// under its id, if it is the same request; it starts with the scheduler, as any execution
/// whose first wake did not happen.
async fn created_before(engine: &Engine, new: &NewExecution) -> Result<Execution, CommandError> {
    let execution = read_execution(engine, new.id).await?;
    if execution.plan_id != new.plan_id || execution.agent_id != new.agent_id {
        return Err(CommandError::Conflict {
            message: format!(
                "execution {} exists already, for another plan or agent",
                new.id
            ),
        });
    }
    Ok(execution)
}

/// Pauses, resumes or cancels an execution.
pub(super) async fn update_status(
    engine: &Engine,
    c: UpdateExecutionStatus,
) -> Result<Execution, CommandError> {
    // Commands may come straight over NATS: check them as the gateway does.
    let request = planexec_schemas::api::UpdateExecutionRequest {
        status: c.status,
        reason: c.reason.clone(),
    };
    request
        .validate()
        .map_err(|errors| CommandError::Invalid { errors })?;
    let input = match c.status {
        ExecutionStatus::Paused => Input::Pause,
        ExecutionStatus::Running => Input::Resume,
        ExecutionStatus::Cancelled => Input::Cancel {
            reason: c
                .reason
                .clone()
                .unwrap_or_else(|| "cancelled by an operator".into()),
        },
        other => {
            return Err(CommandError::invalid(
                "status",
                format!(
                    "{other} is not set by operators; use PAUSED, RUNNING (resume) or CANCELLED"
                ),
            ));
        }
    };
    operate(engine, c.execution_id, input).await
}

/// Moves one task, or the whole execution, to another agent.
pub(super) async fn reassign(engine: &Engine, c: Reassign) -> Result<Execution, CommandError> {
    if agents::get(engine.pool(), c.agent_id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(CommandError::not_found("agent", c.agent_id));
    }
    engine.directory().invalidate();
    operate(
        engine,
        c.execution_id,
        Input::Reassign {
            task: c.task_id,
            to: c.agent_id,
        },
    )
    .await
}

/// Retries, skips or completes one task; only `complete` takes an output.
pub(super) async fn resolve(engine: &Engine, c: ResolveTask) -> Result<Execution, CommandError> {
    let action = match (c.action, c.output) {
        (ResolveAction::Complete, output) => Resolution::Complete {
            output: output.unwrap_or_else(|| serde_json::json!({})),
        },
        (_, Some(_)) => {
            return Err(CommandError::Invalid {
                errors: vec![FieldError::new(
                    "output",
                    "an output is given only with the action `complete`",
                )],
            });
        }
        (ResolveAction::Retry, None) => Resolution::Retry,
        (ResolveAction::Skip, None) => Resolution::Skip,
    };
    let task = c.task_id;
    operate(engine, c.execution_id, Input::Resolve { task, action }).await
}
