//! JSON Schema of every root type, for agents written in other languages.
//!
//! `cargo run -p planexec-schemas --bin write-json-schemas` writes them to `schemas/json/`;
//! a test fails when the committed files differ from what the code generates.

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::Value;

use crate::{agent, api, command, event, execution, notice, plan, task, update};

/// Each schema gets its own generator so that its `$defs` hold only what it references.
fn schema_of<T: JsonSchema>() -> Value {
    SchemaGenerator::new(SchemaSettings::draft2020_12())
        .root_schema_for::<T>()
        .to_value()
}

/// `(file stem, schema)` for every type that crosses a process boundary, sorted by name.
pub fn json_schemas() -> Vec<(&'static str, Value)> {
    let mut all = vec![
        ("agent", schema_of::<agent::Agent>()),
        ("agent_event", schema_of::<event::AgentEvent>()),
        ("agent_message", schema_of::<task::AgentMessage>()),
        ("coordinator_event", schema_of::<event::CoordinatorEvent>()),
        ("execution", schema_of::<execution::Execution>()),
        ("execution_event", schema_of::<event::ExecutionEvent>()),
        ("execution_task", schema_of::<execution::ExecutionTask>()),
        ("execution_update", schema_of::<update::ExecutionUpdate>()),
        ("heartbeat", schema_of::<event::Heartbeat>()),
        ("import_summary", schema_of::<plan::ImportSummary>()),
        ("plan", schema_of::<plan::Plan>()),
        ("plan_document", schema_of::<plan::PlanDocument>()),
        ("problem", schema_of::<api::Problem>()),
        ("rejection_notice", schema_of::<notice::RejectionNotice>()),
        ("task_assignment", schema_of::<task::TaskAssignment>()),
        (
            "command_create_execution",
            schema_of::<command::CreateExecution>(),
        ),
        (
            "command_update_execution_status",
            schema_of::<command::UpdateExecutionStatus>(),
        ),
        (
            "command_register_agent",
            schema_of::<command::RegisterAgent>(),
        ),
        ("command_report_event", schema_of::<command::ReportEvent>()),
        ("command_reassign", schema_of::<command::Reassign>()),
        ("command_approve_plan", schema_of::<command::ApprovePlan>()),
        ("command_resolve_task", schema_of::<command::ResolveTask>()),
        ("command_error", schema_of::<command::CommandError>()),
        (
            "report_event_request",
            schema_of::<api::ReportEventRequest>(),
        ),
        (
            "report_event_response",
            schema_of::<api::ReportEventResponse>(),
        ),
        (
            "register_agent_request",
            schema_of::<api::RegisterAgentRequest>(),
        ),
        (
            "create_execution_request",
            schema_of::<api::CreateExecutionRequest>(),
        ),
        ("conductor_task", schema_of::<api::ConductorTask>()),
        (
            "conductor_task_result",
            schema_of::<api::ConductorTaskResult>(),
        ),
    ];
    all.sort_by(|a, b| a.0.cmp(b.0));
    for (name, schema) in &mut all {
        if let Value::Object(object) = schema {
            object.insert("$id".into(), Value::String(schema_id(name)));
        }
    }
    all
}

/// The `$id` of the schema written as `schemas/json/<stem>.json`.
pub fn schema_id(stem: &str) -> String {
    format!("https://planexec.dev/schemas/{stem}.json")
}

/// The text written for one schema: pretty JSON with a trailing newline.
pub fn render(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}
