//! Executions for operators: create, list, read, pause/resume/cancel, reassign, resolve.

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use axum::Json;
use axum::extract::State;
use chrono::{Datelike, TimeZone, Utc};
use planexec_schemas::api::{
    CreateExecutionRequest, ExecutionList, ReassignRequest, ResolveTaskRequest,
    UpdateExecutionRequest,
};
use planexec_schemas::command::{CreateExecution, Reassign, ResolveTask, UpdateExecutionStatus};
use planexec_schemas::execution::{Execution, ExecutionStatus, ExecutionTask};
use planexec_schemas::validate::Validate;
use planexec_schemas::{Id, Timestamp, new_id};
use planexec_store::executions::read::{Cursor, ListFilter};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::auth::Operator;
use crate::docs;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::responses::Created;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/api/executions",
            post_with(create, |op| {
                docs::operator(op, "executions", &[400, 404, 413, 415, 422])
                    .description("Creates an execution of a plan for an agent; it starts CREATED and runs at once.")
            })
            .get_with(list, |op| {
                docs::operator(op, "executions", &[422])
                    .description("Executions, newest first; filter by plan, status, agent; page with `cursor`.")
            }),
        )
        .api_route(
            "/api/executions/{execution_id}",
            get_with(get_one, |op| {
                docs::operator(op, "executions", &[400, 404])
                    .description("Status, progress, current task, blocked reason.")
            })
            .patch_with(update, |op| {
                docs::operator(op, "executions", &[400, 404, 409, 413, 415, 422]).description(
                    "Pause (`PAUSED`), resume (`RUNNING`) or cancel (`CANCELLED`); an invalid transition is a 409 \
                     naming the current state and the allowed ones.",
                )
            }),
        )
        .api_route(
            "/api/executions/{execution_id}/tasks",
            get_with(tasks, |op| {
                docs::operator(op, "executions", &[400, 404]).description("The tasks and subtasks, in execution order.")
            }),
        )
        .api_route(
            "/api/executions/{execution_id}/reassign",
            post_with(reassign, |op| {
                docs::operator(op, "executions", &[400, 404, 409, 413, 415, 422])
                    .description("Moves one task, or every unfinished task, to another agent.")
            }),
        )
        .api_route(
            "/api/executions/{execution_id}/tasks/{task_id}/resolve",
            post_with(resolve, |op| {
                docs::operator(op, "executions", &[400, 404, 409, 413, 415, 422])
                    .description(
                        "Retries a failed task with a fresh attempt budget, skips a task, or \
                         completes it with an operator's `output` (work done by hand).",
                    )
            }),
        )
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ExecutionPath {
    pub execution_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct TaskPath {
    execution_id: Id,
    task_id: Id,
}

async fn create(
    State(state): State<AppState>,
    _: Operator,
    ApiJson(request): ApiJson<CreateExecutionRequest>,
) -> Result<Created<Execution>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let execution = state
        .coordinator()
        .call(&CreateExecution {
            // Chosen here, so that the command can be sent again if its answer is lost.
            id: Some(new_id()),
            plan_id: request.plan_id,
            agent_id: request.agent_id,
            max_parallel: request.max_parallel,
            routing: request.routing,
        })
        .await?;
    Ok(Created(execution))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExecutionListQuery {
    plan_id: Option<Id>,
    agent_id: Option<Id>,
    status: Option<ExecutionStatus>,
    /// 1..500, default 50.
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
    /// `next_cursor` of the previous page; empty or absent: the first page.
    #[schemars(regex(pattern = TIME_CURSOR))]
    cursor: Option<String>,
}

/// What a `<created_at micros>.<id>` cursor looks like (or empty, the first page). The digits
/// are bounded so that every cursor of this shape names a time PostgreSQL can compare with
/// (years 1653 to 5138; pages end within them).
pub(crate) const TIME_CURSOR: &str = r"^$|^(-?[0-9]{1,16}|[0-9]{17})\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Cursors are `<created_at micros>.<id>`: opaque to clients, URL-safe.
fn encode_cursor(cursor: Cursor) -> String {
    format!("{}.{}", cursor.created_at.timestamp_micros(), cursor.id)
}

fn decode_cursor(text: &str) -> Result<Cursor, ApiError> {
    let (created_at, id) = decode_time_cursor(text)?;
    Ok(Cursor { created_at, id })
}

/// Reads a `<created_at micros>.<id>` cursor. A time outside the years 1..=9999 is refused: no
/// page ever ends there, and PostgreSQL cannot compare with times beyond its range.
pub(crate) fn decode_time_cursor(text: &str) -> Result<(Timestamp, Id), ApiError> {
    let bad = || ApiError::field("cursor", "not a cursor returned by this API");
    let (micros, id) = text.split_once('.').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = Utc
        .timestamp_micros(micros)
        .single()
        .filter(|at| (1..=9999).contains(&at.year()))
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

pub(crate) fn limit(requested: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match requested {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::field(
            "limit",
            format!("must be between 1 and {max}"),
        )),
    }
}

async fn list(
    State(state): State<AppState>,
    _: Operator,
    ApiQuery(query): ApiQuery<ExecutionListQuery>,
) -> Result<Json<ExecutionList>, ApiError> {
    let limit = limit(query.limit, 50, 500)?;
    let cursor = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(decode_cursor)
        .transpose()?;
    let filter = ListFilter {
        plan_id: query.plan_id,
        agent_id: query.agent_id,
        status: query.status,
    };
    let (executions, next) =
        planexec_store::executions::read::list(state.pool(), &filter, limit, cursor).await?;
    Ok(Json(ExecutionList {
        executions,
        next_cursor: next.map(encode_cursor),
    }))
}

async fn get_one(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<ExecutionPath>,
) -> Result<Json<Execution>, ApiError> {
    planexec_store::executions::read::get(state.pool(), path.execution_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("execution", path.execution_id))
}

async fn update(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<ExecutionPath>,
    ApiJson(request): ApiJson<UpdateExecutionRequest>,
) -> Result<Json<Execution>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let command = UpdateExecutionStatus {
        execution_id: path.execution_id,
        status: request.status,
        reason: request.reason,
    };
    Ok(Json(state.coordinator().call(&command).await?))
}

async fn tasks(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<ExecutionPath>,
) -> Result<Json<Vec<ExecutionTask>>, ApiError> {
    if planexec_store::executions::read::get(state.pool(), path.execution_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("execution", path.execution_id));
    }
    Ok(Json(
        planexec_store::executions::read::tasks(state.pool(), path.execution_id).await?,
    ))
}

async fn reassign(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<ExecutionPath>,
    ApiJson(request): ApiJson<ReassignRequest>,
) -> Result<Json<Execution>, ApiError> {
    let command = Reassign {
        execution_id: path.execution_id,
        task_id: request.task_id,
        agent_id: request.agent_id,
    };
    Ok(Json(state.coordinator().call(&command).await?))
}

async fn resolve(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<TaskPath>,
    ApiJson(request): ApiJson<ResolveTaskRequest>,
) -> Result<Json<Execution>, ApiError> {
    let command = ResolveTask {
        execution_id: path.execution_id,
        task_id: path.task_id,
        action: request.action,
        output: request.output,
    };
    Ok(Json(state.coordinator().call(&command).await?))
}
