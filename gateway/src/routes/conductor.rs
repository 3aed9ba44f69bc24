//! Conductor compatibility, so that Conductor workers and the official Conductor SDKs serve
//! planexec with nothing but their standard settings (server URL, key id, key secret).
//!
//! - `POST /api/token {keyId, keySecret}` (agent id, agent token) answers the token the SDKs
//!   then send as `X-Authorization` ([`token`]).
//! - `GET /api/tasks/poll/{taskType}` and `GET /api/tasks/poll/batch/{taskType}?count=&timeout=`
//!   hand out the worker's next tasks whose capability is `taskType` (a task of another type
//!   goes back to the queue) and report them started, as Conductor moves a polled task to
//!   IN_PROGRESS. `workerid` is free text: the token says which agent polls.
//! - `POST /api/tasks`, `POST /api/tasks/update-v2` and `POST /api/tasks/{taskId}/log` take
//!   results and logs ([`update`]).
//!
//! Conductor's task id is `<task_id>.<attempt>`: every retry is a new task id there too.

mod token;
mod update;

use std::collections::BTreeMap;
use std::time::Duration;

use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use axum::Json;
use axum::extract::State;
use planexec_schemas::api::ConductorTask;
use planexec_schemas::event::{AgentEvent, AgentEventBody};
use planexec_schemas::task::{AgentMessage, TaskAssignment};
use planexec_schemas::{Id, new_id};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::AgentCaller;
use crate::docs;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::report;
use crate::responses::MaybeContent;
use crate::routes::work::take;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/api/tasks/poll/{taskType}",
            get_with(poll, |op| {
                docs::agent(op, "conductor", &[400, 422])
                    .description("Conductor-style poll: the worker's next task of this type (200), or 204.")
            }),
        )
        .api_route(
            "/api/tasks/poll/batch/{taskType}",
            get_with(batch_poll, |op| {
                docs::agent(op, "conductor", &[400, 422]).description(
                    "Conductor-style batch poll: up to `count` tasks of this type, waiting up to `timeout` ms for the \
                     first; an empty list when none came.",
                )
            }),
        )
        .merge(update::routes())
        .merge(token::routes())
}

#[derive(Debug, Deserialize, JsonSchema)]
struct TypePath {
    #[serde(rename = "taskType")]
    task_type: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ConductorPollQuery {
    /// The worker as it names itself (free text, e.g. its host name); the token says who it is.
    #[schemars(length(max = 1000))]
    workerid: Option<String>,
    /// Accepted for compatibility; planexec has no task domains.
    #[allow(dead_code)]
    domain: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ConductorBatchPollQuery {
    /// The worker as it names itself (free text); the token says who it is.
    #[schemars(length(max = 1000))]
    workerid: Option<String>,
    /// Accepted for compatibility; planexec has no task domains.
    #[allow(dead_code)]
    domain: Option<String>,
    /// How many tasks at most (default 1, capped at 100).
    count: Option<u32>,
    /// Milliseconds to wait for the first task (default 100, capped at the poll limit).
    timeout: Option<u64>,
}

fn millis(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_millis()
}

/// A handed-out assignment as Conductor's Task.
fn conductor_task(task: &TaskAssignment, worker: &str) -> ConductorTask {
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
    let now = millis(chrono::Utc::now());
    ConductorTask {
        task_id: format!("{}.{}", task.task_id, task.attempt),
        task_type: task.capability.clone(),
        task_def_name: task.capability.clone(),
        workflow_instance_id: task.execution_id,
        workflow_type: "planexec".into(),
        reference_task_name: task.wbs.clone(),
        status: "IN_PROGRESS".into(),
        input_data: input,
        output_data: BTreeMap::new(),
        retry_count: task.attempt.saturating_sub(1),
        poll_count: 1,
        callback_after_seconds: 0,
        response_timeout_seconds: task.timeout_seconds,
        scheduled_time: millis(task.dispatched_at),
        start_time: now,
        update_time: now,
        worker_id: worker.to_owned(),
    }
}

/// Up to `count` tasks of `task_type` for `agent`: due callbacks first, then its queue,
/// waiting up to `wait` for the first. Each new one is reported started.
async fn hand_out(
    state: &AppState,
    agent: Id,
    worker: &str,
    task_type: &str,
    count: usize,
    wait: Duration,
) -> Result<Vec<ConductorTask>, ApiError> {
    state.heartbeat(agent).await;
    let mut tasks = state
        .callbacks()
        .due(agent, task_type, count, millis(chrono::Utc::now()));
    let consumer = state.consumer(agent).await?;
    let mut wait = if tasks.is_empty() {
        wait
    } else {
        Duration::ZERO
    };
    while tasks.len() < count {
        let wanted = |m: &AgentMessage| match m {
            AgentMessage::Task(task) => task.capability == task_type,
            // Conductor workers know no cancels; the coordinator rejects the late events anyway.
            AgentMessage::Cancel(_) => true,
        };
        match take(state, agent, &consumer, wait, wanted).await? {
            Some(AgentMessage::Task(task)) => {
                let started = AgentEvent {
                    event_id: new_id(),
                    execution_id: task.execution_id,
                    task_id: task.task_id,
                    attempt: task.attempt,
                    timestamp: chrono::Utc::now(),
                    status: Some("polled".into()),
                    body: AgentEventBody::TaskStarted {},
                };
                // The worker gets the task from this very poll: it holds it. Without the
                // coordinators the task cannot start, so it goes back to the queue at once
                // rather than wait out its lease; what this poll already took is handed out.
                if let Err(e) = report::send(state, agent, started).await {
                    state.handouts().give_back(task.task_id, task.attempt).await;
                    if tasks.is_empty() {
                        return Err(e);
                    }
                    break;
                }
                state.handouts().confirm(task.task_id, task.attempt).await;
                let handed = conductor_task(&task, worker);
                let keep = Duration::from_secs(u64::from(task.timeout_seconds) + 60);
                state.callbacks().handed_out(agent, handed.clone(), keep);
                tasks.push(handed);
            }
            Some(AgentMessage::Cancel(cancel)) => {
                let id = format!("{}.{}", cancel.task_id, cancel.attempt);
                state.callbacks().finished(agent, &id);
            }
            None => break,
        }
        wait = Duration::ZERO;
    }
    Ok(tasks)
}

async fn poll(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiPath(path): ApiPath<TypePath>,
    ApiQuery(query): ApiQuery<ConductorPollQuery>,
) -> Result<MaybeContent<ConductorTask>, ApiError> {
    let worker = query.workerid.unwrap_or_default();
    let mut tasks = hand_out(
        &state,
        caller.0,
        &worker,
        &path.task_type,
        1,
        Duration::ZERO,
    )
    .await?;
    Ok(match tasks.pop() {
        Some(task) => MaybeContent::Content(task),
        None => MaybeContent::Nothing,
    })
}

async fn batch_poll(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiPath(path): ApiPath<TypePath>,
    ApiQuery(query): ApiQuery<ConductorBatchPollQuery>,
) -> Result<Json<Vec<ConductorTask>>, ApiError> {
    let worker = query.workerid.unwrap_or_default();
    let count = query.count.unwrap_or(1).clamp(1, 100) as usize;
    let wait =
        Duration::from_millis(query.timeout.unwrap_or(100)).min(state.options().max_poll_wait);
    Ok(Json(
        hand_out(&state, caller.0, &worker, &path.task_type, count, wait).await?,
    ))
}
