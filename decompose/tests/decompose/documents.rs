//! Plan documents (our own format): capabilities given by the author are kept, references are
//! checked, phase keys expand, and the ordering is WBS order unless a dependency says otherwise.

use planexec_decompose::{ImportError, decompose_document, parse_tasks_from_plan};
use planexec_schemas::plan::{PlanDocument, PlanSourceKind, PlanStatus};
use serde_json::json;

use crate::support::fixture;

fn document(value: serde_json::Value) -> PlanDocument {
    serde_json::from_value(value).expect("a well-formed plan document")
}

fn two_phase_plan() -> serde_json::Value {
    json!({
        "title": "Kennel outreach",
        "phases": [
            {"key": "research", "title": "Research", "tasks": [
                {"key": "find", "title": "Find kennels", "capability": "search_google_maps",
                 "description": "Search for kennels near Seattle and keep name, address and phone number of each.",
                 "duration_days": {"realistic": 2.0}},
                {"key": "list", "title": "Write the list", "capability": "manage_csv",
                 "subtasks": [
                    {"key": "list-create", "title": "Create the CSV", "capability": "manage_csv"},
                    {"key": "list-fill", "title": "Fill the CSV", "capability": "manage_csv"}
                 ],
                 "depends_on": [{"key": "find", "explanation": "The list holds what was found."}]}
            ]},
            {"key": "outreach", "title": "Outreach", "tasks": [
                {"key": "mail", "title": "Email kennels", "capability": "send_email",
                 "depends_on": [{"key": "research", "explanation": "Needs the whole research phase."}]},
                {"key": "phone", "title": "Phone kennels", "capability": "make_phone_call",
                 "depends_on": [{"key": "mail"}]}
            ]}
        ]
    })
}

#[test]
fn capabilities_given_by_the_document_are_kept_as_chosen_by_document() {
    let d = decompose_document(document(two_phase_plan())).expect("valid document");
    assert_eq!(d.source.kind, Some(PlanSourceKind::Document));
    for (_, _, leaf) in d.leaves() {
        assert_eq!(leaf.capability.chosen_by, "document");
        assert_eq!(leaf.capability.match_score, 1.0);
        assert_eq!(leaf.capability.evidence, "given in the plan document");
    }
    let find = &d.phases[0].tasks[0];
    assert_eq!(
        find.leaf.as_ref().map(|l| l.capability.capability.as_str()),
        Some("search_google_maps")
    );
    assert!(
        find.planexe_id.is_none(),
        "document keys are not PlanExe ids"
    );
    assert_eq!(d.counts.leaves, 5);
    assert_eq!((d.counts.dependencies, d.counts.durations), (3, 1));
}

#[test]
fn a_phase_key_dependency_expands_to_every_task_of_the_phase() {
    let d = decompose_document(document(two_phase_plan())).expect("valid document");
    let mail = &d.phases[1].tasks[0];
    let on: Vec<&str> = mail.depends_on.iter().map(|x| x.on_wbs.as_str()).collect();
    assert_eq!(on, ["1.1", "1.2"]);
    assert!(
        mail.depends_on
            .iter()
            .all(|x| x.explanation.as_deref() == Some("Needs the whole research phase."))
    );
    let positions: Vec<u32> = d
        .phases
        .iter()
        .flat_map(|p| &p.tasks)
        .map(|t| t.position)
        .collect();
    assert_eq!(positions, [0, 1, 2, 3]);
}

#[test]
fn a_forward_dependency_reorders_only_what_it_must() {
    let mut plan = two_phase_plan();
    plan["phases"][0]["tasks"][0]["depends_on"] = json!([{"key": "phone"}]);
    plan["phases"][1]["tasks"][0]["depends_on"] = json!([]);
    plan["phases"][0]["tasks"][1]["depends_on"] = json!([]);
    let d = decompose_document(document(plan)).expect("valid document");
    let order: Vec<(&str, u32)> = d
        .phases
        .iter()
        .flat_map(|p| &p.tasks)
        .map(|t| (t.wbs.as_str(), t.position))
        .collect();
    // 1.1 waits for 2.2, which waits for 2.1; 1.2 is free and keeps its place first.
    assert_eq!(order, [("1.1", 3), ("1.2", 0), ("2.1", 1), ("2.2", 2)]);
}

#[test]
fn a_dangling_dependency_key_is_a_field_error() {
    let mut plan = two_phase_plan();
    plan["phases"][0]["tasks"][1]["depends_on"][0]["key"] = json!("nowhere");
    match decompose_document(document(plan)) {
        Err(ImportError::InvalidDocument { errors, .. }) => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].field, "phases[0].tasks[1].depends_on[0].key");
            assert!(errors[0].message.contains("nowhere"));
        }
        other => panic!("expected InvalidDocument, got {other:?}"),
    }
}

#[test]
fn field_errors_of_the_document_are_all_reported() {
    let mut plan = two_phase_plan();
    plan["phases"][1]["title"] = json!("");
    plan["phases"][1]["tasks"][1]["capability"] = json!("Make Phone Call");
    let err = decompose_document(document(plan)).expect_err("invalid document");
    let ImportError::InvalidDocument { errors, .. } = &err else {
        panic!("{err:?}")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["phases[1].title", "phases[1].tasks[1].capability"]);
    assert!(
        err.to_string()
            .contains("phases[1].title: must hold a visible character"),
        "{err}"
    );
}

#[test]
fn a_document_task_on_its_own_phase_or_subtask_is_refused_as_containment() {
    for (key, on) in [("research", "1"), ("list-fill", "1.2.2")] {
        let mut plan = two_phase_plan();
        plan["phases"][0]["tasks"][1]["depends_on"] =
            json!([{"key": key, "explanation": "It is part of it."}]);
        match decompose_document(document(plan)).expect_err("containment accepted") {
            ImportError::ContainmentDependency(c) => {
                assert_eq!(c.field, "phases[0].tasks[1].depends_on[0].key");
                let end = |s: &planexec_decompose::CycleStep| (s.wbs.clone(), s.key.clone());
                assert_eq!(end(&c.dependent), ("1.2".into(), Some("list".into())));
                assert_eq!(end(&c.depends_on), (on.into(), Some(key.into())));
                assert_eq!(c.explanation.as_deref(), Some("It is part of it."));
            }
            other => panic!("expected ContainmentDependency, got {other:?}"),
        }
    }
    let mut plan = two_phase_plan();
    plan["phases"][0]["tasks"][1]["depends_on"] = json!([{"key": "list"}]);
    let err = decompose_document(document(plan)).expect_err("a task on itself");
    assert_eq!(err.cycle_wbs().as_deref(), Some("1.2 → 1.2"), "{err}");
}

#[test]
fn a_cycle_between_document_tasks_is_named() {
    let mut plan = two_phase_plan();
    plan["phases"][0]["tasks"][0]["depends_on"] = json!([{"key": "phone"}]);
    let err = decompose_document(document(plan)).expect_err("cycle accepted");
    assert_eq!(
        err.cycle_wbs().as_deref(),
        Some("1.1 → 2.2 → 2.1 → 1.1"),
        "{err}"
    );
    assert!(
        err.to_string().contains("1.1 (find) → 2.2 (phone)"),
        "{err}"
    );
}

#[test]
fn a_dependency_on_a_subtask_key_waits_for_its_task() {
    let mut plan = two_phase_plan();
    plan["phases"][1]["tasks"][0]["depends_on"] = json!([{"key": "list-fill"}]);
    let d = decompose_document(document(plan)).expect("valid document");
    assert_eq!(d.phases[1].tasks[0].depends_on[0].on_wbs, "1.2");
}

#[test]
fn a_document_without_tasks_is_rejected() {
    let err = decompose_document(document(json!({"title": "Empty", "phases": []})))
        .expect_err("empty plan");
    assert!(matches!(err, ImportError::NoTasks { .. }), "{err:?}");
}

#[test]
fn leaves_without_capability_are_mapped_automatically() {
    let mut plan = two_phase_plan();
    plan["phases"][1]["tasks"][1]
        .as_object_mut()
        .expect("task")
        .remove("capability");
    let d = decompose_document(document(plan)).expect("valid document");
    let phone = d.phases[1].tasks[1].leaf.as_ref().expect("leaf");
    assert_eq!(
        (
            phone.capability.capability.as_str(),
            phone.capability.chosen_by.as_str()
        ),
        ("make_phone_call", "auto")
    );
}

#[test]
fn a_parsed_planexe_document_decomposes_like_the_run() {
    let doc = parse_tasks_from_plan(&fixture("dog_breeder_prospecting")).expect("fixture parses");
    assert_eq!(doc.source.kind, Some(PlanSourceKind::Planexe));
    let keys = doc
        .phases
        .iter()
        .flat_map(|p| &p.tasks)
        .filter(|t| t.key.is_some())
        .count();
    assert_eq!(keys, 10);
    let d = decompose_document(doc).expect("decomposes");
    assert_eq!(d.status, PlanStatus::Ready);
    assert!(
        d.phases[0].tasks[0].planexe_id.is_some(),
        "PlanExe ids are kept"
    );
}
