//! The AsyncAPI 3.0 document of the NATS wire: every subject, who sends what on it, and the
//! message payloads as references to the JSON Schemas of `schemas/json/`.
//!
//! `cargo run -p planexec-schemas --bin write-json-schemas` writes it to `schemas/asyncapi.json`
//! with the schemas; a test fails when the committed file differs or names a schema that is not
//! generated.

use serde_json::{Map, Value, json};

use crate::command::{
    ApprovePlan, Command, CreateExecution, Reassign, RegisterAgent, ReportEvent, ResolveTask,
    UpdateExecutionStatus,
};

/// A message whose payload is the schema `schemas/json/<stem>.json`.
fn message(stem: &str, summary: &str) -> Value {
    json!({
        "name": stem,
        "contentType": "application/json",
        "summary": summary,
        "payload": { "$ref": format!("./json/{stem}.json") },
    })
}

/// `{agent_id}`-style parameters.
fn parameters(names: &[&str]) -> Value {
    let mut map = Map::new();
    map.insert(
        "ns".into(),
        json!({ "description": "The namespace (PLANEXE_NATS_NAMESPACE), `planexec` by default." }),
    );
    for name in names {
        map.insert(
            (*name).into(),
            json!({ "description": format!("A UUID: the {}.", name.replace('_', " ")) }),
        );
    }
    Value::Object(map)
}

fn channel(address: &str, description: &str, params: &[&str], messages: &[(&str, &str)]) -> Value {
    let mut map = Map::new();
    for (stem, summary) in messages {
        map.insert((*stem).into(), message(stem, summary));
    }
    json!({
        "address": address,
        "description": description,
        "parameters": parameters(params),
        "messages": map,
    })
}

fn command<C: Command>(request: &str, reply: &str) -> (String, Value) {
    let verb = C::VERB;
    (
        format!("command_{verb}"),
        channel(
            &format!("{{ns}}.cmd.{verb}"),
            "Request/reply to the coordinators' queue group `<ns>-coordinator`. The reply is \
             `{\"ok\": <reply>}` or `{\"error\": <command_error>}`.",
            &[],
            &[
                (request, "The command."),
                (reply, "Its reply payload when it succeeds."),
                ("command_error", "Its typed error."),
            ],
        ),
    )
}

/// The document.
pub fn asyncapi() -> Value {
    let mut channels = Map::new();
    channels.insert(
        "events".into(),
        channel(
            "{ns}.events.{agent_id}.{execution_id}",
            "Agents publish their events here, into the JetStream stream `<NS>_EVENTS` (file storage, a \
             duplicate window: set `Nats-Msg-Id` to the `event_id`). The subject proves the sender: an agent \
             may publish only under its own id. Wait for the stream's acknowledgement; an event the \
             coordinator refuses is recorded as rejected and noticed on `{ns}.notices.{agent_id}`.",
            &["agent_id", "execution_id"],
            &[("agent_event", "One event about one task attempt.")],
        ),
    );
    channels.insert(
        "tasks".into(),
        channel(
            "{ns}.tasks.{agent_id}",
            "The coordinator publishes each agent's assignments and cancels into the work-queue stream \
             `<NS>_TASKS`; the agent reads them through its durable pull consumer `agent-<agent_id>` \
             (explicit acks). Ack a task once taken, ack cancels, terminate anything else.",
            &["agent_id"],
            &[("agent_message", "A task assignment or a cancel, tagged by `type`.")],
        ),
    );
    channels.insert(
        "heartbeats".into(),
        channel(
            "{ns}.heartbeats.{agent_id}",
            "Core NATS: an agent's sign of life, every 10 s (its events count too).",
            &["agent_id"],
            &[("heartbeat", "The agent and how many tasks it holds.")],
        ),
    );
    channels.insert(
        "updates".into(),
        channel(
            "{ns}.updates.{execution_id}",
            "Core NATS: a compact update after every committed change of an execution.",
            &["execution_id"],
            &[(
                "execution_update",
                "Status, progress and the tasks that changed.",
            )],
        ),
    );
    for (name, value) in [
        command::<RegisterAgent>("command_register_agent", "agent"),
        command::<CreateExecution>("command_create_execution", "execution"),
        command::<UpdateExecutionStatus>("command_update_execution_status", "execution"),
        command::<ReportEvent>("command_report_event", "report_event_response"),
        command::<Reassign>("command_reassign", "execution"),
        command::<ApprovePlan>("command_approve_plan", "plan"),
        command::<ResolveTask>("command_resolve_task", "execution"),
    ] {
        channels.insert(name, value);
    }
    let operations = json!({
        "publishEvent": { "action": "send", "channel": { "$ref": "#/channels/events" },
                          "summary": "An agent reports an event." },
        "receiveTask": { "action": "receive", "channel": { "$ref": "#/channels/tasks" },
                         "summary": "An agent takes its next task or cancel." },
        "sendHeartbeat": { "action": "send", "channel": { "$ref": "#/channels/heartbeats" },
                           "summary": "An agent says it is alive." },
        "receiveUpdate": { "action": "receive", "channel": { "$ref": "#/channels/updates" },
                           "summary": "A watcher follows an execution." },
    });
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "planexec NATS wire",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Subjects and messages between agents, coordinators and gateways. Payloads are the JSON \
                            Schemas in schemas/json/ (draft 2020-12). See docs/agent_setup.md.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
    })
}

/// Every schema stem the document refers to.
pub fn referenced_schemas(document: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(document, &mut found);
    found.sort();
    found.dedup();
    found
}

fn collect(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && let Some(stem) = reference
                    .strip_prefix("./json/")
                    .and_then(|r| r.strip_suffix(".json"))
            {
                found.push(stem.to_owned());
            }
            map.values().for_each(|v| collect(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
        _ => {}
    }
}
