//! Reporting agents' events to the coordinator, for every route that takes them (our own
//! `POST /api/executions/{id}/events` and Conductor's `POST /api/tasks`).
//!
//! A report is accepted only from the agent that holds the task (the token proves who sends
//! it; the coordinator checks the attempt), every event is validated before any is sent, and
//! each is committed by the coordinator before the answer.

use planexec_schemas::Id;
use planexec_schemas::api::{NextStep, ReportEventResponse};
use planexec_schemas::command::{ReportEvent, ReportOutcome};
use planexec_schemas::event::{AgentEvent, Disposition, EventType};
use planexec_schemas::validate::Validate;
use planexec_store::executions::read::leaf_holder;

use crate::error::ApiError;
use crate::state::AppState;

/// What the coordinator did with the last event of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    pub event_id: Id,
    pub outcome: ReportOutcome,
    /// The event ended its attempt (see `EventType::ends_attempt`).
    pub ends_attempt: bool,
    /// The event handed the task back (`task_released`).
    pub released: bool,
}

impl Reported {
    /// Whether the agent is free for its next task: its attempt ended with this report, for
    /// the first time, and the execution goes on. Handing a task back (`task_released`) says
    /// the agent is leaving, so it frees nothing.
    pub fn frees_the_agent(&self) -> bool {
        self.ends_attempt
            && !self.released
            && self.outcome.disposition != Disposition::Duplicate
            && !self.outcome.execution_status.is_terminal()
    }

    /// Whether this was the re-sent final event of an attempt whose first answer, with the
    /// agent's next task in it, may have been lost.
    pub fn repeats_a_final_event(&self) -> bool {
        self.ends_attempt
            && !self.released
            && self.outcome.disposition == Disposition::Duplicate
            && !self.outcome.execution_status.is_terminal()
    }

    /// The answer to the agent, with `next` as its next step, unless the execution is over.
    pub fn answer(&self, next: NextStep) -> ReportEventResponse {
        ReportEventResponse {
            event_id: self.event_id,
            disposition: self.outcome.disposition,
            reason: self.outcome.reason.clone(),
            execution_status: self.outcome.execution_status,
            progress: self.outcome.progress,
            next: if self.outcome.execution_status.is_terminal() {
                NextStep::ExecutionComplete
            } else {
                next
            },
        }
    }
}

/// Reports `events` (about one task of one execution, in order) on behalf of `agent`; the
/// answer is about the last one.
pub async fn report(
    state: &AppState,
    agent: Id,
    mut events: Vec<AgentEvent>,
) -> Result<Reported, ApiError> {
    let last = events
        .pop()
        .ok_or_else(|| ApiError::internal("no event to report"))?;
    holds(state, agent, last.execution_id, last.task_id).await?;
    for event in events.iter().chain([&last]) {
        event.validate().map_err(ApiError::Validation)?;
    }
    for event in events {
        send(state, agent, event).await?;
    }
    let event_type = last.body.event_type();
    let (event_id, task, attempt) = (last.event_id, last.task_id, last.attempt);
    let outcome = send(state, agent, last).await?;
    // The agent has this attempt: a lease on it, if this gateway handed it out, is over.
    state.handouts().confirm(task, attempt).await;
    Ok(Reported {
        event_id,
        outcome,
        ends_attempt: event_type.ends_attempt(),
        released: event_type == EventType::TaskReleased,
    })
}

/// Sends one event to the coordinator, without the holder's check (for events the gateway
/// makes itself about a task it just handed out).
pub async fn send(
    state: &AppState,
    agent: Id,
    event: AgentEvent,
) -> Result<ReportOutcome, ApiError> {
    state
        .coordinator()
        .call(&ReportEvent {
            agent_id: agent,
            event,
        })
        .await
}

/// Whether `agent` holds leaf `task` of `execution`: 404 when there is no such leaf, 403 when
/// another agent (or none) holds it.
pub(crate) async fn holds(
    state: &AppState,
    agent: Id,
    execution: Id,
    task: Id,
) -> Result<(), ApiError> {
    let (holder, _) = leaf_holder(state.pool(), execution, task)
        .await?
        .ok_or_else(|| ApiError::not_found("task", format!("{task} of execution {execution}")))?;
    if holder != Some(agent) {
        return Err(ApiError::Forbidden(format!(
            "task {task} is not assigned to agent {agent}"
        )));
    }
    Ok(())
}
