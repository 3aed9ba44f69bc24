//! The catalogue of tools: names, descriptions and input schemas, generated from the types of
//! `planexec_schemas::mcp` so that what clients see is what the server parses.

use std::sync::Arc;

use planexec_schemas::mcp::{
    ChangeExecutionInput, CompleteTaskInput, ExecutionInput, FailTaskInput, ListExecutionsInput,
    NextTaskInput, ReportProgressInput, ResolveTaskInput,
};
use rmcp::model::{JsonObject, Tool};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};

/// Who may use a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A caller with an agent's own token.
    Agent,
    /// A caller with the operator token.
    Operator,
}

/// The input schema of `T`, self-contained (no references), as MCP clients expect.
pub fn input_schema<T: JsonSchema>() -> Arc<JsonObject> {
    let settings = SchemaSettings::draft2020_12().with(|s| s.inline_subschemas = true);
    let value = SchemaGenerator::new(settings)
        .root_schema_for::<T>()
        .to_value();
    let mut object = match value {
        serde_json::Value::Object(object) => object,
        _ => JsonObject::new(),
    };
    object.remove("$schema");
    object.insert("type".into(), "object".into());
    Arc::new(object)
}

fn tool<T: JsonSchema>(name: &'static str, description: &'static str) -> Tool {
    Tool::new(name, description, input_schema::<T>())
}

/// The tools a caller in `role` may use.
pub fn catalogue(role: Role) -> Vec<Tool> {
    match role {
        Role::Agent => vec![
            tool::<NextTaskInput>(
                "next_task",
                "Claim the next task assigned to you. It counts as started at once, so its timeout runs. \
                 Returns the task's ids and attempt and its plan context (phase, description, what its \
                 dependencies produced, acceptance criteria), or no task when none came within \
                 `wait_seconds`; then call it again. Finish each task with complete_task or fail_task.",
            ),
            tool::<ReportProgressInput>(
                "report_progress",
                "Report partial progress (percent of the task) on a task you claimed; it also shows you \
                 are alive while working long on it.",
            ),
            tool::<CompleteTaskInput>(
                "complete_task",
                "The task is done: pass execution_id, task_id and attempt as next_task returned them and \
                 the result as `output` (an object; the tasks that depend on this one see it).",
            ),
            tool::<FailTaskInput>(
                "fail_task",
                "The attempt failed: say why in `error`. With `retryable` true (the default) the task is \
                 retried later, perhaps by another agent; false means retrying cannot help.",
            ),
        ],
        Role::Operator => vec![
            tool::<ListExecutionsInput>(
                "list_executions",
                "Executions, newest first, optionally by status, plan or agent; page with `cursor`.",
            ),
            tool::<ExecutionInput>(
                "get_execution",
                "One execution: status, progress, blocked reason, and its tasks with their results.",
            ),
            tool::<ChangeExecutionInput>(
                "pause_execution",
                "Pause a running execution: nothing new is dispatched until it is resumed.",
            ),
            tool::<ChangeExecutionInput>("resume_execution", "Resume a paused execution."),
            tool::<ResolveTaskInput>(
                "resolve_task",
                "A task: `retry` it (failed) with a fresh attempt budget, `skip` it, or `complete` it \
                 with an `output` (work done by hand).",
            ),
        ],
    }
}
