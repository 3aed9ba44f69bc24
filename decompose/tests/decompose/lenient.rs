//! What PlanExe itself tolerates imports for review: a dependency id that names no task of the
//! plan (PlanExe's scheduler logs "Task with id … not found" and goes on) is dropped with a
//! warning and forces a review; a phase without tasks is a phase with nothing to do.

use std::collections::HashSet;

use planexec_decompose::{
    Decomposition, ImportOptions, decompose_plan, decompose_zip, decompose_zip_with, read_run,
};
use planexec_schemas::plan::PlanStatus;
use serde_json::{Value, json};

use crate::support::{RunFiles, fixture, shared_runs};

const GHOST: &str = "00000000-0000-4000-8000-000000000000";
const OTHER_GHOST: &str = "22222222-2222-4222-8222-222222222222";

fn zip_name(path: &std::path::Path) -> String {
    path.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

fn reasons_naming<'a>(d: &'a Decomposition, needle: &str) -> Vec<&'a String> {
    d.review_reasons
        .iter()
        .filter(|r| r.contains(needle))
        .collect()
}

#[test]
fn a_dependency_on_an_unknown_id_is_dropped_warned_about_and_forces_review() {
    const FIELD: &str = "$.task_dependency_details[0].depends_on_task_id_list[0]";
    for zip in shared_runs() {
        let name = zip_name(&zip);
        let original = RunFiles::from_zip(&zip);
        let mut files = original.clone();
        let deps = files.edit_json("-task_dependencies_raw.json", |d| {
            d["task_dependency_details"][0]["depends_on_task_id_list"][0] = json!(GHOST);
        });
        let declared = files.counts().dependency_pairs.expect("dependency file");
        assert_eq!(Some(declared), original.counts().dependency_pairs);

        let d = decompose_zip(&name, &files.to_zip())
            .unwrap_or_else(|e| panic!("{name}: lenient import refused a dangling id: {e}"));

        // Counts stay as declared in the file, the dropped pair included.
        assert_eq!(d.counts.dependencies, declared, "{name}");
        // The plan is the one whose file never declared the pair.
        let mut without = original.clone();
        without.edit_json("-task_dependencies_raw.json", |d| {
            let first = &mut d["task_dependency_details"][0];
            for list in [
                "depends_on_task_id_list",
                "depends_on_task_explanation_list",
            ] {
                if let Some(items) = first[list].as_array_mut() {
                    items.remove(0);
                }
            }
        });
        let reference = decompose_zip(&name, &without.to_zip()).expect("reference import");
        assert_eq!(
            d.phases, reference.phases,
            "{name}: the dependency was not dropped"
        );

        let warning = d
            .warnings
            .iter()
            .find(|w| w.contains(GHOST))
            .unwrap_or_else(|| panic!("{name}: no warning names {GHOST}: {:?}", d.warnings));
        assert!(
            warning.contains(&deps) && warning.contains(FIELD) && warning.contains("ignored"),
            "{warning}"
        );

        assert_eq!(d.status, PlanStatus::NeedsReview, "{name}");
        assert!(d.summary().needs_review, "{name}");
        let reasons = reasons_naming(&d, "not in the plan");
        assert_eq!(reasons.len(), 1, "{name}: {:?}", d.review_reasons);
        assert_eq!(
            reasons[0],
            &format!(
                "1 dependency names a task that is not in the plan ({deps}: {FIELD} = \"{GHOST}\"); it was ignored"
            )
        );
        // The confidence reasons still come first.
        if d.confidence < planexec_decompose::REVIEW_THRESHOLD {
            assert!(d.review_reasons[0].starts_with("confidence "), "{name}");
        }

        // The same run read on its own says what was dropped.
        let dir = tempfile::tempdir().expect("tempdir");
        files.write_dir(dir.path());
        let run = read_run(dir.path()).expect("lenient read");
        assert_eq!(run.dangling_dependencies.len(), 1);
        let dangling = &run.dangling_dependencies[0];
        assert_eq!(
            (
                dangling.field.as_str(),
                dangling.id.as_str(),
                dangling.pairs
            ),
            (FIELD, GHOST, 1)
        );
        assert!(dangling.file.ends_with(deps.as_str()), "{}", dangling.file);
    }
}

#[test]
fn a_dangling_dependent_drops_its_whole_record_and_a_ready_plan_still_needs_review() {
    let mut files = RunFiles::from_dir(&fixture("dog_breeder_prospecting"));
    let before = decompose_plan(&fixture("dog_breeder_prospecting")).expect("fixture imports");
    assert_eq!(before.status, PlanStatus::Ready);
    let details =
        files.json("-task_dependencies_raw.json").expect("deps")["task_dependency_details"].clone();
    // The first record with two targets loses its dependent; record 0 loses one target.
    let (r, record) = details
        .as_array()
        .expect("list")
        .iter()
        .enumerate()
        .find(|(_, x)| x["depends_on_task_id_list"].as_array().map(Vec::len) == Some(2))
        .expect("a record with two targets");
    assert_ne!(r, 0);
    let dependent: String = record["dependent_task_id"].as_str().expect("id").to_owned();
    let deps = files.edit_json("-task_dependencies_raw.json", |d| {
        d["task_dependency_details"][r]["dependent_task_id"] = json!(OTHER_GHOST);
        d["task_dependency_details"][0]["depends_on_task_id_list"][0] = json!(GHOST);
    });
    let declared = files.counts().dependency_pairs.expect("deps");
    let dir = tempfile::tempdir().expect("tempdir");
    files.write_dir(dir.path());

    let d = decompose_plan(dir.path()).expect("lenient import");
    assert_eq!(d.counts.dependencies, declared);
    assert!(d.confidence >= planexec_decompose::REVIEW_THRESHOLD);
    assert_eq!(d.confidence, before.confidence);
    assert_eq!(d.status, PlanStatus::NeedsReview);
    let deps_path = dir.path().join(&deps).display().to_string();
    let target = "$.task_dependency_details[0].depends_on_task_id_list[0]";
    let dependent_field = format!("$.task_dependency_details[{r}].dependent_task_id");
    assert_eq!(
        d.review_reasons,
        [format!(
            "3 dependencies name tasks that are not in the plan ({deps_path}: {target} = \"{GHOST}\", {dependent_field} = \"{OTHER_GHOST}\"); they were ignored"
        )]
    );
    for (field, id) in [(target, GHOST), (dependent_field.as_str(), OTHER_GHOST)] {
        assert!(
            d.warnings
                .iter()
                .any(|w| w.starts_with(&deps_path) && w.contains(field) && w.contains(id)),
            "no warning for {field} = {id}: {:?}",
            d.warnings
        );
    }
    // The task whose id was replaced lost the record's dependencies: it now waits for nothing
    // (the fixture declares its dependencies in that record only).
    let wbs_of = |d: &Decomposition| {
        d.phases
            .iter()
            .flat_map(|p| &p.tasks)
            .find(|t| t.planexe_id.as_deref() == Some(dependent.as_str()))
            .map(|t| (t.wbs.clone(), t.depends_on.len()))
            .expect("the dependent is a task of the fixture")
    };
    let (wbs, edges_before) = wbs_of(&before);
    assert_eq!(edges_before, 2, "{wbs}");
    assert_eq!(wbs_of(&d), (wbs, 0));
    // Strict mode refuses the same run on the first dangling id, in file order.
    match planexec_decompose::decompose_plan_with(dir.path(), &ImportOptions::STRICT) {
        Err(planexec_decompose::ImportError::DanglingId { field, id, .. }) => {
            assert_eq!((field.as_str(), id.as_str()), (target, GHOST));
        }
        other => panic!("expected DanglingId, got {other:?}"),
    }
}

/// Empties phase `p` of a real run the way PlanExe would write it: the phase lists no tasks,
/// and no other file names the tasks it had. Returns the level-2 path and the phase's id.
fn empty_phase(files: &mut RunFiles, p: usize) -> (String, String) {
    let l2: Value = files.json("-wbs_level2.json").expect("level 2");
    let phase_id = l2[p]["id"].as_str().expect("phase id").to_owned();
    let gone: HashSet<String> = l2[p]["subtasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["id"].as_str().expect("task id").to_owned())
        .collect();
    assert!(!gone.is_empty());
    let l2_path = files.edit_json("-wbs_level2.json", |l2| l2[p]["subtasks"] = json!([]));
    let named = |v: &Value| v.as_str().is_some_and(|id| gone.contains(id));
    files.edit_json("-wbs_level3.json", |l3| {
        l3.as_array_mut()
            .expect("list")
            .retain(|s| !named(&s["parent_id"]));
    });
    files.edit_json("-task_durations.json", |d| {
        d.as_array_mut()
            .expect("list")
            .retain(|r| !named(&r["task_id"]));
    });
    files.edit_json("-task_dependencies_raw.json", |d| {
        let details = d["task_dependency_details"].as_array_mut().expect("list");
        details.retain(|x| !named(&x["dependent_task_id"]));
        for x in details.iter_mut() {
            let ids = x["depends_on_task_id_list"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let notes = x["depends_on_task_explanation_list"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let keep: Vec<usize> = (0..ids.len()).filter(|&i| !named(&ids[i])).collect();
            x["depends_on_task_id_list"] = keep.iter().map(|&i| ids[i].clone()).collect();
            x["depends_on_task_explanation_list"] =
                keep.iter().filter_map(|&i| notes.get(i).cloned()).collect();
        }
    });
    (l2_path, phase_id)
}

#[test]
fn a_phase_without_tasks_imports_as_a_phase_with_nothing_to_do() {
    for zip in shared_runs() {
        let name = zip_name(&zip);
        let mut files = RunFiles::from_zip(&zip);
        let (l2, phase_id) = empty_phase(&mut files, 1);
        // A later task waits for the empty phase: the id names a phase of the plan, so this
        // is no dangling dependency, and it gives no edge.
        let later = files.json("-wbs_level2.json").expect("level 2")[2]["subtasks"][0]["id"]
            .as_str()
            .expect("task id")
            .to_owned();
        files.edit_json("-task_dependencies_raw.json", |d| {
            d["task_dependency_details"]
                .as_array_mut()
                .expect("list")
                .push(json!({
                    "dependent_task_id": later,
                    "depends_on_task_id_list": [phase_id],
                    "depends_on_task_explanation_list": ["added by the test"],
                }));
        });
        let counts = files.counts();
        let dir = tempfile::tempdir().expect("tempdir");
        files.write_dir(dir.path());

        for options in [ImportOptions::LENIENT, ImportOptions::STRICT] {
            let label = format!("{name} ({options:?})");
            let d = planexec_decompose::decompose_plan_with(dir.path(), &options)
                .unwrap_or_else(|e| panic!("{label}: a phase without tasks was refused: {e}"));
            assert_eq!(d.counts.phases, counts.phases, "{label}");
            assert_eq!(d.counts.tasks, counts.tasks, "{label}");
            assert_eq!(Some(d.counts.subtasks), counts.subtasks, "{label}");
            assert_eq!(
                Some(d.counts.dependencies),
                counts.dependency_pairs,
                "{label}"
            );
            assert_eq!(Some(d.counts.durations), counts.durations, "{label}");
            assert_eq!(d.counts.leaves as usize, d.leaves().len(), "{label}");
            let phase = &d.phases[1];
            assert_eq!(phase.wbs, "2");
            assert!(phase.tasks.is_empty(), "{label}");
            assert_eq!(phase.planexe_id.as_deref(), Some(phase_id.as_str()));
            // The phases after it keep their numbers.
            assert_eq!(d.phases[2].tasks[0].wbs, "3.1");
            assert!(d.phases[2].tasks[0].planexe_id.as_deref() == Some(later.as_str()));
            let warning = d
                .warnings
                .iter()
                .find(|w| w.contains("lists no tasks"))
                .unwrap_or_else(|| panic!("{label}: no warning: {:?}", d.warnings));
            let l2_name = l2.rsplit('/').next().expect("file name");
            assert!(
                warning.contains(l2_name)
                    && warning.contains("phase 2")
                    && warning.contains(&phase_id)
                    && warning.contains("$[1].subtasks"),
                "{warning}"
            );
            assert!(
                reasons_naming(&d, "not in the plan").is_empty(),
                "{label}: {:?}",
                d.review_reasons
            );
            assert!(
                !d.warnings
                    .iter()
                    .any(|w| w.contains("duration records name")),
                "{label}: {:?}",
                d.warnings
            );
        }
    }
}

#[test]
fn a_plan_whose_phases_all_lack_tasks_is_still_rejected() {
    let zip = &shared_runs()[0];
    let mut files = RunFiles::from_zip(zip);
    files.edit_json("-wbs_level2.json", |l2| {
        for phase in l2.as_array_mut().expect("list") {
            phase["subtasks"] = json!([]);
        }
    });
    for options in [ImportOptions::LENIENT, ImportOptions::STRICT] {
        assert!(
            matches!(
                decompose_zip_with("empty.zip", &files.to_zip(), &options),
                Err(planexec_decompose::ImportError::NoTasks { .. })
            ),
            "{options:?}"
        );
    }
}
