//! Conductor-style polling, so that existing Conductor workers can serve planexec.
//!
//! `GET /api/tasks/poll/{taskType}?workerid=` hands out the worker's next task whose capability is
//! `taskType` (a task of another type goes back to the queue), and reports it started, as
//! Conductor moves a polled task to IN_PROGRESS. `POST /api/tasks` takes a TaskResult and maps its
//! status onto our events: IN_PROGRESS → task_progress, COMPLETED → task_complete, FAILED →
//! task_failed (retryable), FAILED_WITH_TERMINAL_ERROR → task_failed (give up). Conductor's task
//! id is `<task_id>.<attempt>`: every retry is a new task id there too. The worker id is the
//! agent id; the agent's own token authenticates.

use std::collections::BTreeMap;

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use axum::Json;
use axum::extract::State;
use planexec_schemas::api::{
    ConductorStatus, ConductorTask, ConductorTaskResult, NextStep, ReportEventResponse,
};
use planexec_schemas::event::{AgentEvent, AgentEventBody, LogLevel};
use planexec_schemas::task::{AgentMessage, TaskAssignment};
use planexec_schemas::{Id, new_id};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::AgentCaller;
use crate::docs;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::report;
use crate::responses::MaybeContent;
use crate::routes::work::take;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/api/tasks/poll/{taskType}",
            get_with(poll, |op| {
                docs::agent(op, "conductor", &[400, 422]).description(
                    "Conductor-style poll: the worker's next task of this type (200), or 204.",
                )
            }),
        )
        .api_route(
            "/api/tasks",
            post_with(result, |op| {
                docs::agent(op, "conductor", &[400, 404, 413, 415, 422])
                    .description("Conductor-style task result, mapped onto planexec events.")
            }),
        )
}

#[derive(Debug, Deserialize, JsonSchema)]
struct TypePath {
    #[serde(rename = "taskType")]
    task_type: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PollQuery {
    /// The polling worker: the agent's id (empty or absent: the token's agent).
    #[schemars(regex(
        pattern = r"^$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    workerid: Option<String>,
    /// Accepted for compatibility; planexec has no task domains.
    #[allow(dead_code)]
    domain: Option<String>,
}

fn worker(caller: AgentCaller, workerid: Option<&str>) -> Result<Id, ApiError> {
    match workerid {
        None | Some("") => Ok(caller.0),
        Some(id) => {
            let id: Id = id
                .parse()
                .map_err(|_| ApiError::field("workerid", "must be the agent's id"))?;
            caller.must_be(id)
        }
    }
}

fn conductor_task(task: &TaskAssignment, worker: Id) -> ConductorTask {
    let mut input = BTreeMap::new();
    input.insert("wbs".to_owned(), Value::from(task.wbs.clone()));
    input.insert("title".to_owned(), Value::from(task.title.clone()));
    input.insert(
        "description".to_owned(),
        Value::from(task.description.clone()),
    );
    input.insert("params".to_owned(), task.params.clone());
    input.insert(
        "resources_needed".to_owned(),
        Value::from(task.resources_needed.clone()),
    );
    ConductorTask {
        task_id: format!("{}.{}", task.task_id, task.attempt),
        task_type: task.capability.clone(),
        workflow_instance_id: task.execution_id,
        reference_task_name: task.wbs.clone(),
        status: "IN_PROGRESS".into(),
        input_data: input,
        retry_count: task.attempt.saturating_sub(1),
        response_timeout_seconds: task.timeout_seconds,
        worker_id: worker.to_string(),
    }
}

async fn poll(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiPath(path): ApiPath<TypePath>,
    ApiQuery(query): ApiQuery<PollQuery>,
) -> Result<MaybeContent<ConductorTask>, ApiError> {
    let agent = worker(caller, query.workerid.as_deref())?;
    state.heartbeat(agent).await;
    let consumer = state.consumer(agent).await?;
    let wanted = |m: &AgentMessage| match m {
        AgentMessage::Task(task) => task.capability == path.task_type,
        // Conductor workers know no cancels; the coordinator rejects the late events anyway.
        AgentMessage::Cancel(_) => true,
    };
    let Some(AgentMessage::Task(task)) =
        take(&state, agent, &consumer, std::time::Duration::ZERO, wanted).await?
    else {
        return Ok(MaybeContent::Nothing);
    };
    let started = AgentEvent {
        event_id: new_id(),
        execution_id: task.execution_id,
        task_id: task.task_id,
        attempt: task.attempt,
        timestamp: chrono::Utc::now(),
        status: Some("polled".into()),
        body: AgentEventBody::TaskStarted {},
    };
    // The worker got the task from this very poll: it holds it. Without the coordinators the
    // task cannot start, so it goes back to the queue at once rather than wait out its lease.
    if let Err(e) = report::send(&state, agent, started).await {
        state.handouts().give_back(task.task_id, task.attempt).await;
        return Err(e);
    }
    state.handouts().confirm(task.task_id, task.attempt).await;
    Ok(MaybeContent::Content(conductor_task(&task, agent)))
}

async fn result(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiJson(result): ApiJson<ConductorTaskResult>,
) -> Result<Json<ReportEventResponse>, ApiError> {
    let agent = worker(caller, result.worker_id.as_deref())?;
    let bad_id = || {
        ApiError::field(
            "taskId",
            "must be the `<task_id>.<attempt>` given by the poll",
        )
    };
    let (task, attempt) = result.task_id.rsplit_once('.').ok_or_else(bad_id)?;
    let (task_id, attempt): (Id, u32) = (
        task.parse().map_err(|_| bad_id())?,
        attempt.parse().map_err(|_| bad_id())?,
    );
    let execution = result.workflow_instance_id;
    let output = Value::Object(result.output_data.clone().into_iter().collect());
    // A blank reason says nothing; the failure still needs words for the history.
    let reason = result
        .reason_for_incompletion
        .clone()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "the worker reported a failure".into());
    let body = match result.status {
        ConductorStatus::InProgress => AgentEventBody::TaskProgress {
            progress: output
                .get("progress")
                .and_then(Value::as_f64)
                .unwrap_or(50.0)
                .clamp(0.0, 100.0),
            message: result.reason_for_incompletion.clone(),
        },
        ConductorStatus::Completed => AgentEventBody::TaskComplete { output },
        ConductorStatus::Failed => AgentEventBody::TaskFailed {
            error: reason,
            retryable: true,
            retry_after_seconds: None,
        },
        ConductorStatus::FailedWithTerminalError => AgentEventBody::TaskFailed {
            error: reason,
            retryable: false,
            retry_after_seconds: None,
        },
    };
    let events: Vec<AgentEvent> = result
        .logs
        .iter()
        // A blank log line carries nothing worth an event (and a log event needs text).
        .filter(|log| !log.log.trim().is_empty())
        .map(|log| AgentEventBody::Log {
            level: LogLevel::Info,
            message: log.log.clone(),
        })
        .chain(std::iter::once(body))
        .map(|body| AgentEvent {
            event_id: new_id(),
            execution_id: execution,
            task_id,
            attempt,
            timestamp: chrono::Utc::now(),
            status: None,
            body,
        })
        .collect();
    let reported = report::report(&state, agent, events).await?;
    Ok(Json(reported.answer(NextStep::Poll {
        retry_after_seconds: 0,
    })))
}
