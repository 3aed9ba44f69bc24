//! Commands: NATS request/reply on `planexec.cmd.<verb>`, answered by any coordinator replica
//! (queue group). Each answer is a [`Reply`]: the typed result or a typed [`CommandError`].
//!
//! Only the coordinator writes execution state; the gateway and the CLI ask through these.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use planexec_schemas::api::RegisterAgentRequest;
use planexec_schemas::command::{
    ApprovePlan, Command, CommandError, CreateExecution, PlanApproved, Reassign, RegisterAgent,
    Reply, ReportEvent, ReportOutcome, ResolveTask, UpdateExecutionStatus,
};
use planexec_schemas::event::{CoordinatorEvent, Disposition};
use planexec_schemas::execution::{Execution, ExecutionStatus, RoutingPolicy};
use planexec_schemas::validate::{FieldError, Validate, limits};
use planexec_schemas::{agent::Agent, new_id};
use planexec_store::executions::{self, schedule::NewExecution};
use planexec_store::{agents, events, plans};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, Item, LockMode, Outcome, Work};
use crate::machine::{Input, Rejection};

/// Subscribes to commands (in the coordinators' queue group); once this returns, commands
/// reach this replica.
pub async fn subscribe(engine: &Engine) -> Result<async_nats::Subscriber, crate::Error> {
    let ns = &engine.options().namespace;
    let subscription = engine
        .nats()
        .queue_subscribe(ns.commands_wildcard(), ns.command_queue_group())
        .await
        .map_err(|e| crate::Error::nats("subscribing to commands", e))?;
    round_trip(engine.nats()).await?;
    Ok(subscription)
}

/// Returns once the server has processed everything this connection sent before: a message to
/// our own inbox comes back only after the subscriptions made before it are registered.
async fn round_trip(nats: &async_nats::Client) -> Result<(), crate::Error> {
    let inbox = nats.new_inbox();
    let mut echo = nats
        .subscribe(inbox.clone())
        .await
        .map_err(|e| crate::Error::nats("checking the connection", e))?;
    nats.publish(inbox, "".into())
        .await
        .map_err(|e| crate::Error::nats("checking the connection", e))?;
    match tokio::time::timeout(std::time::Duration::from_secs(10), echo.next()).await {
        Ok(Some(_)) => Ok(()),
        _ => Err(crate::Error::nats(
            "checking the connection",
            "the server did not echo within 10 s",
        )),
    }
}

/// Answers commands until `shutdown`; commands in progress are finished.
pub async fn serve(
    engine: Engine,
    mut subscription: async_nats::Subscriber,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(engine.options().command_concurrency.max(1)));
    let tasks = tokio_util::task::TaskTracker::new();
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => break,
            message = subscription.next() => message,
        };
        let Some(message) = message else { break };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let engine = engine.clone();
        tasks.spawn(async move {
            let Some(reply) = message.reply.clone() else {
                return;
            };
            let verb = message
                .subject
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_owned();
            let answer = answer(&engine, &verb, &message.payload).await;
            if let Err(e) = engine.nats().publish(reply, answer.into()).await {
                tracing::warn!(error = %e, verb, "could not send a command's answer");
            }
            drop(permit);
        });
    }
    let _ = subscription.unsubscribe().await;
    tasks.close();
    tasks.wait().await;
}

/// The JSON answer to one command.
pub async fn answer(engine: &Engine, verb: &str, payload: &[u8]) -> Vec<u8> {
    match verb {
        CreateExecution::VERB => handle(payload, |c| create_execution(engine, c)).await,
        UpdateExecutionStatus::VERB => {
            handle(payload, |c| update_execution_status(engine, c)).await
        }
        RegisterAgent::VERB => handle(payload, |c| register_agent(engine, c)).await,
        ReportEvent::VERB => handle(payload, |c| report_event(engine, c)).await,
        Reassign::VERB => handle(payload, |c| reassign(engine, c)).await,
        ApprovePlan::VERB => handle(payload, |c| approve_plan(engine, c)).await,
        ResolveTask::VERB => handle(payload, |c| resolve_task(engine, c)).await,
        other => encode(&Reply::<()>::Error(CommandError::invalid(
            "verb",
            format!("unknown command {other:?}"),
        ))),
    }
}

async fn handle<C, F, Fut>(payload: &[u8], f: F) -> Vec<u8>
where
    C: Command,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<C::Reply, CommandError>>,
{
    let result = match serde_json::from_slice::<C>(payload) {
        Ok(command) => f(command).await,
        Err(e) => Err(CommandError::invalid(
            "body",
            format!("not a {} command: {e}", C::VERB),
        )),
    };
    encode(&Reply::from(result))
}

fn encode<T: serde::Serialize>(reply: &Reply<T>) -> Vec<u8> {
    serde_json::to_vec(reply).unwrap_or_else(|e| {
        format!(r#"{{"error":{{"kind":"internal","message":"reply not serialisable: {e}"}}}}"#)
            .into_bytes()
    })
}

fn internal(e: impl std::fmt::Display) -> CommandError {
    tracing::error!(error = %e, "command failed");
    CommandError::Internal {
        message: "the coordinator failed to complete the command; see its log".into(),
    }
}

async fn read_execution(
    engine: &Engine,
    id: planexec_schemas::Id,
) -> Result<Execution, CommandError> {
    executions::read::get(engine.pool(), id)
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
async fn operate(
    engine: &Engine,
    execution: planexec_schemas::Id,
    input: Input,
) -> Result<Execution, CommandError> {
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

async fn create_execution(engine: &Engine, c: CreateExecution) -> Result<Execution, CommandError> {
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
        id: new_id(),
        plan_id: c.plan_id,
        agent_id: c.agent_id,
        max_parallel,
        routing: c.routing.unwrap_or(RoutingPolicy::Agent),
    };
    let mut tx = pool.begin().await.map_err(internal)?;
    let row = executions::schedule::insert(&mut *tx, &new)
        .await
        .map_err(internal)?;
    let created = CoordinatorEvent::ExecutionCreated {
        plan_id: c.plan_id,
        agent_id: c.agent_id,
    };
    let event = crate::engine::coordinator_event(row.id, None, None, row.created_at, created);
    events::insert(&mut tx, &[event]).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let execution = row.to_execution().map_err(internal)?;
    // Start it now rather than at the scheduler's next tick; the answer is the CREATED row.
    let starter = engine.clone();
    tokio::spawn(async move {
        if let Err(e) = starter.wake(&[new.id]).await {
            tracing::warn!(error = %e, execution = %new.id, "starting failed; the scheduler will retry");
        }
    });
    Ok(execution)
}

async fn update_execution_status(
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

async fn register_agent(engine: &Engine, c: RegisterAgent) -> Result<Agent, CommandError> {
    let request = RegisterAgentRequest {
        name: c.name,
        role: c.role,
        capabilities: c.capabilities,
    };
    let mut errors = Vec::new();
    request.check(&mut errors);
    if c.token_hash.len() != 64 || !c.token_hash.chars().all(|ch| ch.is_ascii_hexdigit()) {
        errors.push(FieldError::new(
            "token_hash",
            "must be the hex SHA-256 of the token",
        ));
    }
    if !errors.is_empty() {
        return Err(CommandError::Invalid { errors });
    }
    let id = c.id.unwrap_or_else(new_id);
    // The consumer first: an agent row without its queue could never receive a task.
    crate::streams::agent_consumer(engine.jetstream(), &engine.options().namespace, id)
        .await
        .map_err(internal)?;
    let role = if request.role.trim().is_empty() {
        "assistant".to_owned()
    } else {
        request.role
    };
    let agent = agents::insert(
        engine.pool(),
        id,
        &request.name,
        &role,
        &request.capabilities,
        &c.token_hash,
    )
    .await
    .map_err(internal)?;
    // A new capability may unblock executions waiting for one.
    let engine = engine.clone();
    tokio::spawn(async move {
        let blocked = executions::schedule::affected_by_agents(engine.pool(), &[id]).await;
        match blocked {
            Ok(blocked) if !blocked.is_empty() => {
                if let Err(e) = engine.agents_changed(&blocked).await {
                    tracing::warn!(error = %e, "re-routing after a registration failed");
                }
            }
            Ok(_) => engine.directory().invalidate(),
            Err(e) => tracing::warn!(error = %e, "cannot find executions to re-route"),
        }
    });
    Ok(agent)
}

async fn report_event(engine: &Engine, c: ReportEvent) -> Result<ReportOutcome, CommandError> {
    if let Err(errors) = c.event.validate() {
        return Err(CommandError::Invalid { errors });
    }
    let execution = c.event.execution_id;
    let item = Item {
        execution_id: execution,
        work: Work::Agent {
            sender: c.agent_id,
            event: c.event,
        },
    };
    let result = engine
        .run(&[item], LockMode::Wait)
        .await
        .map_err(internal)?
        .remove(0);
    let (disposition, reason) = match result.outcome {
        Outcome::UnknownExecution | Outcome::Busy => {
            return Err(CommandError::not_found("execution", execution));
        }
        Outcome::Applied => (Disposition::Applied, None),
        Outcome::Duplicate => (Disposition::Duplicate, None),
        Outcome::Rejected(r) => (Disposition::Rejected, Some(format!("{}: {r}", r.code()))),
    };
    Ok(ReportOutcome {
        disposition,
        reason,
        execution_status: result.status.unwrap_or(ExecutionStatus::Created),
        progress: result.progress,
    })
}

async fn reassign(engine: &Engine, c: Reassign) -> Result<Execution, CommandError> {
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

async fn resolve_task(engine: &Engine, c: ResolveTask) -> Result<Execution, CommandError> {
    operate(
        engine,
        c.execution_id,
        Input::Resolve {
            task: c.task_id,
            action: c.action,
        },
    )
    .await
}

async fn approve_plan(engine: &Engine, c: ApprovePlan) -> Result<PlanApproved, CommandError> {
    let mut tx = engine.pool().begin().await.map_err(internal)?;
    if !plans::edit::approve(&mut tx, c.plan_id)
        .await
        .map_err(internal)?
    {
        return Err(CommandError::not_found("plan", c.plan_id));
    }
    let waiting = executions::schedule::wake_waiting_for_review(&mut tx, c.plan_id)
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
