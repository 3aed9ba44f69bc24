//! What a task's dependencies produced, for the agent holding it: the plan context an agent
//! needs beyond its assignment (the MCP server's `next_task` returns it with the task).

use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use axum::Json;
use axum::extract::State;
use planexec_schemas::Id;
use planexec_schemas::mcp::DependencyOutput;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::auth::AgentCaller;
use crate::docs;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::report::holds;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().api_route(
        "/api/executions/{execution_id}/tasks/{task_id}/dependencies",
        get_with(outputs, |op| {
            docs::agent(op, "work", &[400, 404]).description(
                "For the agent holding this leaf: the tasks it depends on (a subtask: those of its task) and their \
                 subtasks, in execution order, with their outputs so far.",
            )
        }),
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
struct LeafPath {
    execution_id: Id,
    task_id: Id,
}

async fn outputs(
    State(state): State<AppState>,
    caller: AgentCaller,
    ApiPath(path): ApiPath<LeafPath>,
) -> Result<Json<Vec<DependencyOutput>>, ApiError> {
    holds(&state, caller.0, path.execution_id, path.task_id).await?;
    Ok(Json(
        planexec_store::executions::read::dependency_outputs(
            state.pool(),
            path.execution_id,
            path.task_id,
        )
        .await?,
    ))
}
