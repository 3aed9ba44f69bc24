//! The shared rules, seen through the inputs that use them.

use super::*;
use crate::api::RegisterAgentRequest;
use crate::event::{AgentEvent, AgentEventBody};

fn agent(name: &str, capabilities: &[&str]) -> RegisterAgentRequest {
    RegisterAgentRequest {
        name: name.to_owned(),
        role: "assistant".to_owned(),
        capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
    }
}

#[test]
fn agent_without_capabilities_is_invalid_with_the_field_named() {
    let errors = agent("larry", &[])
        .validate()
        .expect_err("accepted an agent with no capability");
    assert_eq!(errors[0].field, "capabilities");
}

#[test]
fn nul_characters_are_refused_wherever_they_hide() {
    let event = |body| AgentEvent {
        event_id: crate::new_id(),
        execution_id: crate::new_id(),
        task_id: crate::new_id(),
        attempt: 1,
        timestamp: chrono::Utc::now(),
        status: None,
        body,
    };
    let fields =
        |errors: Vec<FieldError>| -> Vec<String> { errors.into_iter().map(|e| e.field).collect() };
    let log = event(AgentEventBody::Log {
        level: crate::event::LogLevel::Info,
        message: "a\0b".into(),
    });
    assert_eq!(fields(log.validate().unwrap_err()), ["message"]);
    let output = event(AgentEventBody::TaskComplete {
        output: serde_json::json!({"rows": [{"name": "ok"}, {"name": "x\u{0}"}]}),
    });
    assert_eq!(
        fields(output.validate().unwrap_err()),
        ["output.rows[1].name"]
    );
    let key = event(AgentEventBody::TaskComplete {
        output: serde_json::json!({"nested": {"k\u{0}": 1}}),
    });
    assert_eq!(fields(key.validate().unwrap_err()), ["output.nested"]);
    assert_eq!(
        fields(agent("lar\0ry", &["send_email"]).validate().unwrap_err()),
        ["name"]
    );
}

#[test]
fn event_times_outside_rfc_3339_years_are_refused() {
    let at = |text: &str| AgentEvent {
        event_id: crate::new_id(),
        execution_id: crate::new_id(),
        task_id: crate::new_id(),
        attempt: 1,
        timestamp: text.parse().expect("chrono reads it"),
        status: None,
        body: AgentEventBody::TaskStarted {},
    };
    assert!(at("0000-01-01T00:00:00Z").validate().is_ok());
    assert!(at("9999-12-31T23:59:59Z").validate().is_ok());
    let errors = at("-4714-01-01T00:00:00Z").validate().unwrap_err();
    assert_eq!(errors[0].field, "timestamp");
}

#[test]
fn agent_capability_names_are_checked_one_by_one() {
    let errors = agent("larry", &["send_email", "Send Email", "send_email"])
        .validate()
        .expect_err("accepted bad capabilities");
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["capabilities[1]", "capabilities[2]"]);
    assert!(agent("larry", &capability::LARRY).validate().is_ok());
}

#[test]
fn a_name_of_only_zero_width_characters_is_empty() {
    for name in ["\u{200B}\u{200C}", "\u{FEFF} \u{2060}", "\u{00AD}"] {
        let errors = agent(name, &["send_email"])
            .validate()
            .expect_err("accepted an invisible name");
        assert_eq!(errors[0].field, "name", "{name:?}");
    }
    agent("larry\u{200B}", &["send_email"])
        .validate()
        .expect("a visible name with a zero-width joiner inside is a name");
}
