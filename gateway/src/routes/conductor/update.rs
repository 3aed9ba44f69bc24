//! Conductor task results and logs.
//!
//! `POST /api/tasks` (answering the task id as text, as Conductor does) and
//! `POST /api/tasks/update-v2` (answering the next task, here always 204: the worker polls)
//! map a TaskResult onto our events: IN_PROGRESS → task_progress (and, with
//! `callbackAfterSeconds`, the task is offered again after that delay), COMPLETED →
//! task_complete, FAILED → task_failed (retryable), FAILED_WITH_TERMINAL_ERROR → task_failed
//! (give up). `POST /api/tasks/{taskId}/log` adds a log line.

use std::time::Duration;

use aide::axum::ApiRouter;
use aide::axum::routing::post_with;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use planexec_schemas::api::{ConductorStatus, ConductorTaskResult};
use planexec_schemas::event::{AgentEvent, AgentEventBody, LogLevel};
use planexec_schemas::{Id, new_id};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::AgentCaller;
use crate::docs;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::report;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/api/tasks",
            post_with(result, |op| {
                docs::agent(op, "conductor", &[400, 404, 413, 415, 422])
                    .description("Conductor-style task result, mapped onto planexec events; answers the task id as text.")
            }),
        )
        .api_route(
            "/api/tasks/update-v2",
            post_with(result_v2, |op| {
                docs::agent(op, "conductor", &[400, 404, 413, 415, 422])
                    .description("Conductor-style task result (v2): as `POST /api/tasks`, then 204 (poll for the next task).")
            }),
        )
        .api_route(
            "/api/tasks/{taskId}/log",
            post_with(log, |op| {
                docs::agent(op, "conductor", &[400, 404, 413, 422])
                    .description("Conductor-style task log: the body (a JSON string, or plain text) becomes a log event.")
            }),
        )
}

/// A Conductor task id `<task_id>.<attempt>` read back.
fn parse_task_id(text: &str) -> Result<(Id, u32), ApiError> {
    let bad = || {
        ApiError::field(
            "taskId",
            "must be the `<task_id>.<attempt>` given by the poll",
        )
    };
    let (task, attempt) = text.rsplit_once('.').ok_or_else(bad)?;
    Ok((
        task.parse().map_err(|_| bad())?,
        attempt.parse().map_err(|_| bad())?,
    ))
}

/// Reports a TaskResult as events on behalf of the calling agent.
async fn apply(state: &AppState, agent: Id, result: ConductorTaskResult) -> Result<(), ApiError> {
    let (task_id, attempt) = parse_task_id(&result.task_id)?;
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
    report::report(state, agent, events).await?;
    match (result.status, result.callback_after_seconds) {
        (ConductorStatus::InProgress, Some(delay)) => {
            let delay = Duration::from_secs(delay);
            if !state.callbacks().call_back(agent, &result.task_id, delay) {
                tracing::debug!(task = %result.task_id, "callback for a task this gateway did not hand out");
            }
        }
        (ConductorStatus::InProgress, None) => {}
        _ => state.callbacks().finished(agent, &result.task_id),
    }
    Ok(())
}

async fn result(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiJson(result): ApiJson<ConductorTaskResult>,
) -> Result<String, ApiError> {
    let task_id = result.task_id.clone();
    apply(&state, caller.0, result).await?;
    Ok(task_id)
}

async fn result_v2(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiJson(result): ApiJson<ConductorTaskResult>,
) -> Result<StatusCode, ApiError> {
    apply(&state, caller.0, result).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ConductorTaskPath {
    #[serde(rename = "taskId")]
    task_id: String,
}

async fn log(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiPath(path): ApiPath<ConductorTaskPath>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let (task_id, attempt) = parse_task_id(&path.task_id)?;
    let message = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::String(text)) => text,
        _ => String::from_utf8_lossy(&body).into_owned(),
    };
    if message.trim().is_empty() {
        return Err(ApiError::field("body", "the log line is empty"));
    }
    let execution = planexec_store::executions::read::leaf_execution(state.pool(), task_id)
        .await?
        .ok_or_else(|| ApiError::not_found("task", task_id))?;
    let event = AgentEvent {
        event_id: new_id(),
        execution_id: execution,
        task_id,
        attempt,
        timestamp: chrono::Utc::now(),
        status: None,
        body: AgentEventBody::Log {
            level: LogLevel::Info,
            message,
        },
    };
    report::report(&state, caller.0, vec![event]).await?;
    Ok(StatusCode::OK)
}
