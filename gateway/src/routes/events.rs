//! An execution's events: agents report them, operators read the history.
//!
//! A report goes to the coordinator through [`report`](crate::report) and is committed before
//! the answer, which tells the agent what to do next: its next task (already taken off its
//! queue) when its attempt ended, that the execution is over, or to keep polling (202).

use aide::axum::ApiRouter;
use aide::axum::routing::post_with;
use axum::Json;
use axum::extract::State;
use planexec_schemas::api::{EventList, NextStep, ReportEventRequest, ReportEventResponse};
use planexec_schemas::event::{AgentEvent, Disposition, EventType};
use planexec_schemas::task::AgentMessage;
use planexec_schemas::{Id, new_id};
use planexec_store::events::EventFilter;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::auth::{AgentCaller, Operator};
use crate::docs;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::report;
use crate::responses::NowOrLater;
use crate::routes::executions::{ExecutionPath, limit};
use crate::routes::work::take;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().api_route(
        "/api/executions/{execution_id}/events",
        post_with(report, |op| {
            docs::agent(op, "work", &[400, 404, 413, 415, 422]).description(
                "An agent reports an event about a task assigned to it. 200 with the next step (its next task, or \
                 that the execution is complete), 202 when it should keep polling. Re-sending an event with the same \
                 `event_id` is accepted and changes nothing.",
            )
        })
        .get_with(list, |op| {
            docs::operator(op, "executions", &[400, 404, 422]).description(
                "The history, newest first: filter by `type`, `task_id`, `disposition` (default `applied`; `all` \
                 includes rejected events); page with the keyset `cursor` (`next_cursor` of the previous page), \
                 which costs the same at any depth, or with `limit` + `offset`, whose cost grows with the offset \
                 (every skipped event is read). `archived=true` \
                 reads the archive instead: the events of an execution that ended longer ago than the retention \
                 (its `events_archived_at` is set), with the same filters, order and cursors.",
            )
        }),
    )
}

async fn report(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiPath(path): ApiPath<ExecutionPath>,
    ApiJson(request): ApiJson<ReportEventRequest>,
) -> Result<NowOrLater<ReportEventResponse>, ApiError> {
    let agent = caller.0;
    state.heartbeat(agent).await;
    let event = AgentEvent {
        event_id: request.event_id.unwrap_or_else(new_id),
        execution_id: path.execution_id,
        task_id: request.task_id,
        attempt: request.attempt,
        timestamp: request.timestamp.unwrap_or_else(chrono::Utc::now),
        status: request.status,
        body: request.body,
    };
    let reported = report::report(&state, agent, vec![event]).await?;
    if reported.outcome.execution_status.is_terminal() {
        return Ok(NowOrLater::Now(
            reported.answer(NextStep::ExecutionComplete),
        ));
    }
    if reported.repeats_a_final_event()
        && let Some(task) = state.handouts().undelivered(agent).await
    {
        // The first answer, which carried this task, was lost: hand it over again.
        return Ok(NowOrLater::Now(reported.answer(NextStep::Task { task })));
    }
    if reported.frees_the_agent() {
        let consumer = state.consumer(agent).await?;
        let wanted = |m: &AgentMessage| matches!(m, AgentMessage::Task(_));
        if let Some(AgentMessage::Task(task)) =
            take(&state, agent, &consumer, std::time::Duration::ZERO, wanted).await?
        {
            return Ok(NowOrLater::Now(reported.answer(NextStep::Task { task })));
        }
    }
    Ok(NowOrLater::Later(reported.answer(NextStep::Poll {
        retry_after_seconds: 0,
    })))
}

/// Which events to list by disposition.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum DispositionFilter {
    Applied,
    Rejected,
    All,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EventListQuery {
    /// An event type, e.g. `task_complete`.
    #[serde(rename = "type")]
    event_type: Option<EventType>,
    task_id: Option<Id>,
    /// `applied` (default), `rejected` or `all`.
    disposition: Option<DispositionFilter>,
    /// 1..1000, default 100.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// Events to skip (newest first). Each skipped event is read, so a deep offset is slow in a
    /// long history; page with `cursor` instead.
    offset: Option<u32>,
    /// `next_cursor` of the previous page (older events); empty or absent: the first page.
    #[schemars(regex(pattern = r"^$|^-?[0-9]{1,18}$"))]
    cursor: Option<String>,
    /// `true`: the archived history (an execution whose `events_archived_at` is set); `false`
    /// (default): the live one. Cursors are the same in both.
    archived: Option<bool>,
}

async fn list(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<ExecutionPath>,
    ApiQuery(query): ApiQuery<EventListQuery>,
) -> Result<Json<EventList>, ApiError> {
    let limit = limit(query.limit, 100, 1000)?;
    let before = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::field("cursor", "not a cursor returned by this API"))
        })
        .transpose()?;
    if planexec_store::executions::read::get(state.pool(), path.execution_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("execution", path.execution_id));
    }
    let filter = EventFilter {
        event_type: query.event_type,
        task_id: query.task_id,
        disposition: match query.disposition.unwrap_or(DispositionFilter::Applied) {
            DispositionFilter::Applied => Some(Disposition::Applied),
            DispositionFilter::Rejected => Some(Disposition::Rejected),
            DispositionFilter::All => None,
        },
    };
    let (pool, id, offset) = (state.pool(), path.execution_id, query.offset.unwrap_or(0));
    let events = if query.archived.unwrap_or(false) {
        planexec_store::archive::list(pool, id, &filter, limit, offset, before).await?
    } else {
        planexec_store::events::list(pool, id, &filter, limit, offset, before).await?
    };
    let next_cursor = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Json(EventList {
        events,
        next_cursor,
    }))
}
