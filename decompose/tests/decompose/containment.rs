//! PlanExe writes containment as a dependency ("X is a subtask of Y and therefore dependent on
//! it"): a task on its own phase, a phase on one of its tasks, a subtask on its task. A lenient
//! import drops such pairs with a warning naming both ends and the explanation, keeps the rest
//! of the plan, lowers the confidence of the leaves involved and asks for review; a strict
//! import refuses them. The runs are the shared real ones with such pairs added to a copy.

use planexec_decompose::{
    Decomposition, ImportError, ImportOptions, Task, decompose_zip, decompose_zip_with,
    read_run_zip,
};
use planexec_schemas::plan::PlanStatus;
use serde_json::{Value, json};

use crate::support::{RunFiles, fixture, shared_runs};

/// The ends of the added pairs: a phase with its first task and that task's first subtask.
struct Family {
    phase: (String, String),
    task: (String, String),
    subtask: (String, String),
    /// WBS numbers of the phase, task and subtask.
    wbs: [String; 3],
}

/// The last phase whose first task has subtasks, read independently from the raw files.
fn family(files: &RunFiles) -> Family {
    let l2 = files.json("-wbs_level2.json").expect("level 2");
    let l3 = files.json("-wbs_level3.json").expect("level 3");
    let l3 = l3.as_array().expect("level 3 is a list");
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let phases = l2.as_array().expect("level 2 is a list");
    for (p, phase) in phases.iter().enumerate().rev() {
        let Some(task) = phase["subtasks"].as_array().and_then(|t| t.first()) else {
            continue;
        };
        let children: Vec<&Value> = l3.iter().filter(|s| s["parent_id"] == task["id"]).collect();
        if let Some(sub) = children.first() {
            return Family {
                phase: (text(phase, "id"), text(phase, "major_phase_title")),
                task: (text(task, "id"), text(task, "description")),
                subtask: (text(sub, "id"), text(sub, "name")),
                wbs: [
                    format!("{}", p + 1),
                    format!("{}.1", p + 1),
                    format!("{}.1.1", p + 1),
                ],
            };
        }
    }
    panic!("no phase whose first task has subtasks")
}

/// The three kinds of containment pair, as `(dependent, depends_on, explanation)`, in the
/// words PlanExe uses.
fn pairs(f: &Family) -> [(String, String, String); 3] {
    let subtask_of = |(_, inner): &(String, String), (_, outer): &(String, String)| {
        format!("{inner} is a subtask of {outer} and therefore dependent on it")
    };
    [
        (
            f.task.0.clone(),
            f.phase.0.clone(),
            subtask_of(&f.task, &f.phase),
        ),
        (
            f.phase.0.clone(),
            f.task.0.clone(),
            format!(
                "{} contains {} and therefore depends on it",
                f.phase.1, f.task.1
            ),
        ),
        (
            f.subtask.0.clone(),
            f.task.0.clone(),
            subtask_of(&f.subtask, &f.task),
        ),
    ]
}

/// Appends the pairs as records of their own; returns the dependency file's path and the JSON
/// path of each added depends-on id.
fn add(files: &mut RunFiles, pairs: &[(String, String, String)]) -> (String, Vec<String>) {
    let mut fields = Vec::new();
    let path = files.edit_json("-task_dependencies_raw.json", |d| {
        let list = d["task_dependency_details"]
            .as_array_mut()
            .expect("details");
        for (dependent, on, why) in pairs {
            fields.push(format!(
                "$.task_dependency_details[{}].depends_on_task_id_list[0]",
                list.len()
            ));
            list.push(json!({
                "dependent_task_id": dependent,
                "depends_on_task_id_list": [on],
                "depends_on_task_explanation_list": [why],
            }));
        }
    });
    (path, fields)
}

fn name_of(zip: &std::path::Path) -> String {
    zip.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

fn tasks(d: &Decomposition) -> Vec<&Task> {
    d.phases.iter().flat_map(|p| &p.tasks).collect()
}

#[test]
fn containment_pairs_are_dropped_with_a_warning_each_and_the_rest_of_the_plan_is_kept() {
    for zip in shared_runs() {
        let name = name_of(&zip);
        let original = RunFiles::from_zip(&zip);
        let reference = decompose_zip(&name, &original.to_zip()).expect("the original imports");
        let mut files = original.clone();
        let f = family(&files);
        let pairs = pairs(&f);
        let (deps, fields) = add(&mut files, &pairs);

        let d = decompose_zip(&name, &files.to_zip())
            .unwrap_or_else(|e| panic!("{name}: containment was refused: {e}"));

        // Counted as declared, the dropped pairs included.
        let declared = files.counts().dependency_pairs.expect("dependency file");
        assert_eq!(
            declared,
            original.counts().dependency_pairs.expect("deps") + 3
        );
        assert_eq!(d.counts.dependencies, declared, "{name}");
        // The order of work is the original's: no containment pair became an edge.
        for (got, want) in tasks(&d).into_iter().zip(tasks(&reference)) {
            assert_eq!(
                (&got.wbs, got.position, &got.depends_on),
                (&want.wbs, want.position, &want.depends_on),
                "{name}"
            );
        }
        // One warning per pair, naming the file, field, both ends and the explanation.
        let [phase_wbs, task_wbs, subtask_wbs] = &f.wbs;
        let ends = [
            (task_wbs, &f.task.0, phase_wbs, &f.phase.0, "its own phase"),
            (
                phase_wbs,
                &f.phase.0,
                task_wbs,
                &f.task.0,
                "one of its own tasks",
            ),
            (
                subtask_wbs,
                &f.subtask.0,
                task_wbs,
                &f.task.0,
                "its own task",
            ),
        ];
        for ((field, (_, _, why)), (wbs, id, on_wbs, on_id, relation)) in
            fields.iter().zip(&pairs).zip(ends)
        {
            let ends = format!("{wbs} ({id}) depends on {on_wbs} ({on_id}), {relation}");
            let warning = d
                .warnings
                .iter()
                .find(|w| w.contains(field.as_str()))
                .unwrap_or_else(|| panic!("{name}: no warning names {field}: {:?}", d.warnings));
            assert!(
                warning.starts_with(&format!("{deps}: {field}: {ends}"))
                    && warning.contains(&format!("{why:?}"))
                    && warning.contains("containment"),
                "{warning}"
            );
        }
        // The plan needs a person, who is told what was reinterpreted.
        assert_eq!(d.status, PlanStatus::NeedsReview, "{name}");
        let reason = d
            .review_reasons
            .iter()
            .find(|r| r.contains("reinterpreted as containment"))
            .unwrap_or_else(|| panic!("{name}: no reason says so: {:?}", d.review_reasons));
        let listed = format!(
            "{task_wbs} on {phase_wbs}, {phase_wbs} on {task_wbs}, {subtask_wbs} on {task_wbs}"
        );
        assert!(
            reason.contains(&deps) && reason.contains(&listed),
            "{reason}"
        );
    }
}

#[test]
fn the_leaves_of_tasks_with_a_reinterpreted_dependency_lose_their_dependency_confidence() {
    for zip in shared_runs() {
        let name = name_of(&zip);
        let original = RunFiles::from_zip(&zip);
        let reference = decompose_zip(&name, &original.to_zip()).expect("the original imports");
        let mut files = original.clone();
        let f = family(&files);
        // The phase on its task: the dependent stands for every task of the phase.
        add(&mut files, &pairs(&f)[1..2]);
        let d = decompose_zip(&name, &files.to_zip()).expect("lenient import");

        let phase = format!("{}.", f.wbs[0]);
        for (got, want) in d.leaves().into_iter().zip(reference.leaves()) {
            let wbs = got.1.map_or(&got.0.wbs, |s| &s.wbs);
            let drop = want.2.confidence - got.2.confidence;
            if wbs.starts_with(&phase) {
                assert!(
                    (drop - 0.1).abs() < 0.0015,
                    "{name} {wbs}: dropped by {drop}"
                );
            } else {
                assert_eq!(drop, 0.0, "{name} {wbs}");
            }
        }
        assert!(
            d.confidence < reference.confidence,
            "{name}: {} is not below {}",
            d.confidence,
            reference.confidence
        );
    }
}

#[test]
fn a_ready_plan_with_containment_needs_review_for_that_reason_alone() {
    let mut files = RunFiles::from_dir(&fixture("dog_breeder_prospecting"));
    let reference = decompose_zip("run.zip", &files.to_zip()).expect("fixture imports");
    assert_eq!(reference.status, PlanStatus::Ready);
    let f = family(&files);
    add(&mut files, &pairs(&f)[..1]);
    let parsed = read_run_zip("run.zip", &files.to_zip()).expect("lenient read");
    let [dropped] = parsed.containment_dependencies.as_slice() else {
        panic!(
            "expected one dropped pair: {:?}",
            parsed.containment_dependencies
        );
    };
    assert_eq!(
        (
            dropped.dependent.wbs.as_str(),
            dropped.dependent.key.as_deref()
        ),
        (f.wbs[1].as_str(), Some(f.task.0.as_str()))
    );
    assert_eq!(
        (
            dropped.depends_on.wbs.as_str(),
            dropped.depends_on.key.as_deref()
        ),
        (f.wbs[0].as_str(), Some(f.phase.0.as_str()))
    );
    assert!(
        dropped
            .explanation
            .as_deref()
            .is_some_and(|e| e.contains("is a subtask of"))
    );

    let d = decompose_zip("run.zip", &files.to_zip()).expect("lenient import");
    assert_eq!(d.status, PlanStatus::NeedsReview);
    assert!(
        d.confidence >= planexec_decompose::REVIEW_THRESHOLD,
        "{}",
        d.confidence
    );
    assert_eq!(d.review_reasons.len(), 1, "{:?}", d.review_reasons);
    assert!(d.review_reasons[0].contains("reinterpreted as containment"));
    assert!(d.summary().needs_review);
}

#[test]
fn a_strict_import_refuses_containment_naming_the_file_both_ids_and_wbs_numbers() {
    let zips = shared_runs();
    for zip in [zips.first(), zips.last()].into_iter().flatten() {
        let name = name_of(zip);
        let original = RunFiles::from_zip(zip);
        let f = family(&original);
        let ends = [(1, 0), (0, 1), (2, 1)];
        let ids = [&f.phase.0, &f.task.0, &f.subtask.0];
        for (pair, (dependent, on)) in pairs(&f).into_iter().zip(ends) {
            let mut files = original.clone();
            let (deps, fields) = add(&mut files, std::slice::from_ref(&pair));
            let err = decompose_zip_with(&name, &files.to_zip(), &ImportOptions::STRICT)
                .expect_err("strict import took containment");
            assert_eq!(err.code(), "containment-dependency");
            match &err {
                ImportError::ContainmentDependency(c) => {
                    assert_eq!((&c.file, &c.field), (&deps, &fields[0]), "{name}");
                    assert_eq!(c.dependent.wbs, f.wbs[dependent]);
                    assert_eq!(c.dependent.key.as_deref(), Some(ids[dependent].as_str()));
                    assert_eq!(c.depends_on.wbs, f.wbs[on]);
                    assert_eq!(c.depends_on.key.as_deref(), Some(ids[on].as_str()));
                    assert_eq!(c.explanation.as_deref(), Some(pair.2.as_str()));
                }
                other => panic!("{name}: expected ContainmentDependency, got {other:?}"),
            }
            let text = err.to_string();
            for needle in [
                &deps,
                ids[dependent],
                ids[on],
                &f.wbs[dependent],
                &f.wbs[on],
            ] {
                assert!(text.contains(needle.as_str()), "{needle} not in {text}");
            }
        }
    }
}

#[test]
fn a_node_depending_on_itself_is_a_cycle_in_both_modes() {
    let zips = shared_runs();
    let zip = zips.first().expect("a run");
    let name = name_of(zip);
    let original = RunFiles::from_zip(zip);
    let f = family(&original);
    for (id, wbs) in [(&f.phase.0, &f.wbs[0]), (&f.task.0, &f.wbs[1])] {
        let mut files = original.clone();
        let (deps, _) = add(&mut files, &[(id.clone(), id.clone(), "itself".to_owned())]);
        for options in [ImportOptions::LENIENT, ImportOptions::STRICT] {
            match decompose_zip_with(&name, &files.to_zip(), &options) {
                Err(err @ ImportError::Cycle { .. }) => {
                    assert_eq!(err.cycle_wbs(), Some(format!("{wbs} → {wbs}")));
                    assert!(
                        err.to_string().contains(&deps) && err.to_string().contains(id.as_str())
                    );
                }
                other => panic!("{name} {options:?}: expected Cycle, got {other:?}"),
            }
        }
    }
}

#[test]
fn a_true_cycle_next_to_containment_is_still_refused() {
    for zip in shared_runs() {
        let name = name_of(&zip);
        let mut files = RunFiles::from_zip(&zip);
        let f = family(&files);
        let l2 = files.json("-wbs_level2.json").expect("level 2");
        let first = l2[0]["subtasks"][0]["id"].as_str().expect("id").to_owned();
        assert_ne!(
            first, f.task.0,
            "{name}: the family must not be in the first phase"
        );
        let mut added = pairs(&f).to_vec();
        for (a, b) in [(&first, &f.task.0), (&f.task.0, &first)] {
            added.push((a.clone(), b.clone(), "added by the test".to_owned()));
        }
        let (deps, _) = add(&mut files, &added);
        match decompose_zip(&name, &files.to_zip()) {
            Err(err @ ImportError::Cycle { .. }) => {
                let cycle = err.cycle_wbs().expect("a cycle");
                assert!(
                    cycle.starts_with("1.1 → ")
                        && cycle.ends_with(" → 1.1")
                        && cycle.contains(&f.wbs[1]),
                    "{name}: {cycle}"
                );
                assert!(err.to_string().contains(&deps), "{err}");
            }
            other => panic!("{name}: expected Cycle, got {other:?}"),
        }
    }
}
