//! Damaged or partial runs, built from the real ones, fail with an error that names what is
//! wrong and where; nothing is half-imported.

use planexec_decompose::{
    ImportError, ImportOptions, decompose_plan, decompose_zip, decompose_zip_with, read_run,
};
use serde_json::{Value, json};

use crate::support::{RunFiles, shared_runs};

/// The oldest and the newest naming generation among the shared runs.
fn runs() -> Vec<(String, RunFiles)> {
    let zips = shared_runs();
    [zips.first(), zips.last()]
        .into_iter()
        .flatten()
        .map(|z| {
            (
                z.file_name().expect("name").to_string_lossy().into_owned(),
                RunFiles::from_zip(z),
            )
        })
        .collect()
}

fn import(name: &str, files: &RunFiles) -> Result<planexec_decompose::Decomposition, ImportError> {
    decompose_zip(name, &files.to_zip())
}

fn first_task_ids(files: &RunFiles) -> Vec<String> {
    let l2 = files.json("-wbs_level2.json").expect("level 2");
    l2.as_array()
        .expect("list")
        .iter()
        .flat_map(|p| p["subtasks"].as_array().cloned().unwrap_or_default())
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect()
}

#[test]
fn a_run_without_any_wbs_file_says_what_was_looked_for_and_what_is_there() {
    for (name, mut files) in runs() {
        for suffix in planexec_decompose::suffix::WBS {
            files.remove(suffix);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        files.write_dir(dir.path());
        match decompose_plan(dir.path()) {
            Err(ImportError::NoWbsFiles {
                looked_for, found, ..
            }) => {
                assert!(
                    looked_for.iter().any(|s| s == "-wbs_level2.json"),
                    "{name}: {looked_for:?}"
                );
                assert!(
                    found.iter().any(|f| f.ends_with("-task_durations.json")),
                    "{name}: {found:?}"
                );
                assert!(
                    found.iter().all(|f| !f.contains("__MACOSX")),
                    "{name}: clutter listed"
                );
            }
            other => panic!("{name}: expected NoWbsFiles, got {other:?}"),
        }
    }
}

#[test]
fn an_empty_folder_has_no_wbs_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = decompose_plan(dir.path()).expect_err("imported an empty folder");
    assert!(
        matches!(&err, ImportError::NoWbsFiles { found, .. } if found.is_empty()),
        "{err:?}"
    );
    assert!(err.to_string().contains("no files at all"), "{err}");
}

#[test]
fn level_one_without_level_two_is_an_incomplete_run() {
    for (name, mut files) in runs() {
        assert_eq!(files.remove("-wbs_level2.json"), 1);
        match import(&name, &files) {
            Err(ImportError::MissingLevel2 { level1, .. }) => {
                assert!(level1.ends_with("-wbs_level1.json"), "{level1}")
            }
            other => panic!("{name}: expected MissingLevel2, got {other:?}"),
        }
    }
}

#[test]
fn a_truncated_zip_is_reported_as_corrupt() {
    let zip = &shared_runs()[0];
    let bytes = std::fs::read(zip).expect("read zip");
    for cut in [bytes.len() / 2, bytes.len() - 10, 100] {
        match decompose_zip("cut.zip", &bytes[..cut]) {
            Err(ImportError::CorruptZip { name, reason }) => {
                assert_eq!(name, "cut.zip");
                assert!(!reason.is_empty());
            }
            other => panic!("expected CorruptZip for {cut} bytes, got {other:?}"),
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run.zip");
    std::fs::write(&path, &bytes[..bytes.len() / 3]).expect("write");
    assert!(matches!(
        decompose_plan(&path),
        Err(ImportError::CorruptZip { .. })
    ));
}

#[test]
fn invalid_json_in_level_two_names_the_file_line_and_column() {
    for (name, mut files) in runs() {
        let path = files.put(
            "-wbs_level2.json",
            b"[\n  {\"id\": \"x\",\n  \"major_phase_title\" \"oops\"}\n]",
        );
        let err = import(&name, &files).expect_err("imported invalid JSON");
        match &err {
            ImportError::InvalidJson {
                file, line, column, ..
            } => {
                assert_eq!(file, &path);
                assert_eq!((*line, *column), (3, 23), "{err}");
            }
            other => panic!("{name}: expected InvalidJson, got {other:?}"),
        }
        let file_name = path.rsplit('/').next().expect("file name");
        assert!(err.to_string().contains(file_name), "{err}");
    }
}

#[test]
fn a_wrong_shape_names_the_json_path_and_what_was_expected() {
    for (name, mut files) in runs() {
        files.edit_json("-wbs_level2.json", |l2| {
            l2[1]["subtasks"] = json!("not a list")
        });
        match import(&name, &files) {
            Err(ImportError::WrongShape {
                path,
                expected,
                found,
                ..
            }) => {
                assert_eq!(path, "$[1].subtasks");
                assert!(expected.contains("list"), "{expected}");
                assert!(found.contains("not a list"), "{found}");
            }
            other => panic!("{name}: expected WrongShape, got {other:?}"),
        }
    }
}

#[test]
fn in_strict_mode_a_dependency_on_an_unknown_id_names_the_id_and_the_file() {
    const GHOST: &str = "00000000-0000-4000-8000-000000000000";
    for (name, files) in runs() {
        // The untouched run has no dangling id: strict imports it exactly as lenient does.
        let strict = decompose_zip_with(&name, &files.to_zip(), &ImportOptions::STRICT)
            .unwrap_or_else(|e| panic!("{name}: strict import of the real run: {e}"));
        assert_eq!(
            strict,
            import(&name, &files).expect("lenient import"),
            "{name}"
        );
        for field in [
            "$.task_dependency_details[0].depends_on_task_id_list[0]",
            "$.task_dependency_details[0].dependent_task_id",
        ] {
            let mut files = files.clone();
            let deps = files.edit_json("-task_dependencies_raw.json", |d| {
                let first = &mut d["task_dependency_details"][0];
                if field.ends_with("dependent_task_id") {
                    first["dependent_task_id"] = json!(GHOST);
                } else {
                    first["depends_on_task_id_list"][0] = json!(GHOST);
                }
            });
            let err = decompose_zip_with(&name, &files.to_zip(), &ImportOptions::STRICT)
                .expect_err("strict mode imported a dangling dependency");
            match &err {
                ImportError::DanglingId {
                    file,
                    field: at,
                    id,
                    expected,
                } => {
                    assert_eq!(file, &deps);
                    assert_eq!(id, GHOST);
                    assert_eq!(at, field);
                    assert!(expected.contains("phase or task"), "{expected}");
                }
                other => panic!("{name}: expected DanglingId, got {other:?}"),
            }
            assert_eq!(err.code(), "dangling-id");
            assert!(
                err.to_string().contains(GHOST) && err.to_string().contains(&deps),
                "{err}"
            );
        }
    }
}

#[test]
fn a_dependency_cycle_is_named_by_wbs_numbers_and_ids() {
    for (name, mut files) in runs() {
        let ids = first_task_ids(&files);
        let (a, b) = (ids[0].clone(), ids[1].clone());
        let deps = files.edit_json("-task_dependencies_raw.json", |d| {
            let list = d["task_dependency_details"]
                .as_array_mut()
                .expect("details");
            for (from, to) in [(&a, &b), (&b, &a)] {
                list.push(json!({
                    "dependent_task_id": from,
                    "depends_on_task_id_list": [to],
                    "depends_on_task_explanation_list": ["added by the test"],
                }));
            }
        });
        let strict = decompose_zip_with(&name, &files.to_zip(), &ImportOptions::STRICT)
            .expect_err("a strict import took a cycle");
        let err = import(&name, &files).expect_err("imported a cycle");
        assert_eq!(
            strict.to_string(),
            err.to_string(),
            "{name}: both modes refuse alike"
        );
        match &err {
            ImportError::Cycle { file, cycle } => {
                assert_eq!(file, &deps);
                assert_eq!(cycle.first(), cycle.last());
                let wbs: Vec<&str> = cycle.iter().map(|s| s.wbs.as_str()).collect();
                assert!(wbs.contains(&"1.1") && wbs.contains(&"1.2"), "{wbs:?}");
                assert!(cycle.iter().any(|s| s.key.as_deref() == Some(a.as_str())));
            }
            other => panic!("{name}: expected Cycle, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("1.1 (") && text.contains(" → "), "{text}");
        assert!(err.cycle_wbs().is_some_and(|c| c.contains("1.2")), "{err}");
    }
}

#[test]
fn a_subtask_with_an_unknown_parent_names_the_field_and_id() {
    const GHOST: &str = "11111111-1111-4111-8111-111111111111";
    for (name, mut files) in runs() {
        let l3 = files.edit_json("-wbs_level3.json", |l3| l3[4]["parent_id"] = json!(GHOST));
        match import(&name, &files) {
            Err(ImportError::DanglingId {
                file,
                field,
                id,
                expected,
            }) => {
                assert_eq!(
                    (file.as_str(), field.as_str(), id.as_str()),
                    (l3.as_str(), "$[4].parent_id", GHOST)
                );
                assert!(expected.contains("-wbs_level2.json"), "{expected}");
            }
            other => panic!("{name}: expected DanglingId, got {other:?}"),
        }
    }
}

#[test]
fn a_duplicate_id_names_both_places() {
    for (name, mut files) in runs() {
        let ids = first_task_ids(&files);
        let l2 = files.edit_json("-wbs_level2.json", |l2| {
            l2[0]["subtasks"][1]["id"] = json!(ids[0])
        });
        match import(&name, &files) {
            Err(ImportError::DuplicateId {
                file,
                field,
                id,
                first,
            }) => {
                assert_eq!(
                    (file.as_str(), field.as_str(), id.as_str()),
                    (l2.as_str(), "$[0].subtasks[1].id", ids[0].as_str())
                );
                assert!(first.ends_with("$[0].subtasks[0].id"), "{first}");
            }
            other => panic!("{name}: expected DuplicateId, got {other:?}"),
        }
    }
}

#[test]
fn a_plan_without_tasks_is_rejected() {
    for (name, mut files) in runs() {
        files.edit_json("-wbs_level2.json", |l2| *l2 = json!([]));
        assert!(
            matches!(import(&name, &files), Err(ImportError::NoTasks { .. })),
            "{name}"
        );
    }
}

#[test]
fn unknown_ids_in_durations_are_a_warning_and_still_counted() {
    for (name, mut files) in runs() {
        let before = files.counts().durations.expect("durations");
        files.edit_json("-task_durations.json", |d| {
            d.as_array_mut().expect("list").push(
                json!({"task_id": "ghost-id", "days_min": 1, "days_max": -1, "days_realistic": 2}),
            );
        });
        let d = import(&name, &files).expect("durations with an unknown id still import");
        assert_eq!(d.counts.durations, before + 1);
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains("ghost-id") && w.contains("duration")),
            "{:?}",
            d.warnings
        );
    }
}

#[test]
fn a_run_with_only_levels_one_and_two_has_tasks_as_leaves_and_warns() {
    for (name, mut files) in runs() {
        let counts = files.counts();
        for suffix in [
            "-wbs_level3.json",
            "-task_dependencies_raw.json",
            "-task_durations.json",
            "-pipeline_complete.txt",
        ] {
            files.remove(suffix);
        }
        let d = import(&name, &files).expect("a partial run imports");
        assert_eq!(
            (d.counts.tasks, d.counts.subtasks, d.counts.leaves),
            (counts.tasks, 0, counts.tasks)
        );
        assert_eq!((d.counts.dependencies, d.counts.durations), (0, 0));
        for needle in [
            "-wbs_level3.json",
            "-task_dependencies_raw.json",
            "-task_durations.json",
            "did not finish",
        ] {
            assert!(
                d.warnings.iter().any(|w| w.contains(needle)),
                "{name}: no warning about {needle}: {:?}",
                d.warnings
            );
        }
        assert!(
            d.review_reasons
                .iter()
                .any(|r| r.contains("dependencies were not analysed")),
            "{:?}",
            d.review_reasons
        );
    }
}

#[test]
fn without_level_files_the_assembled_project_tree_is_used() {
    for (name, mut files) in runs() {
        let counts = files.counts();
        files.remove("-wbs_level1.json");
        files.remove("-wbs_level2.json");
        let d = import(&name, &files).expect("the wbs_project tree stands in");
        assert_eq!(
            (d.counts.phases, d.counts.tasks),
            (counts.phases, counts.tasks),
            "{name}"
        );
        assert_eq!(Some(d.counts.subtasks), counts.subtasks, "{name}");
        assert_eq!(d.source.planexe_project_id, counts.project_id, "{name}");
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains("wbs_project_level1_and_level2")),
            "{:?}",
            d.warnings
        );
    }
}

#[test]
fn several_candidates_for_one_suffix_take_the_path_that_sorts_last() {
    let (_, mut files) = runs().remove(0);
    let l2_path = files.path_of("-wbs_level2.json").expect("level 2");
    let dir = l2_path.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
    let mut l2: Value = files.json("-wbs_level2.json").expect("level 2");
    l2.as_array_mut().expect("list").truncate(2);
    files.0.insert(
        format!("{dir}/999-9-wbs_level2.json"),
        serde_json::to_vec(&l2).expect("json"),
    );
    let dir_tmp = tempfile::tempdir().expect("tempdir");
    files.write_dir(dir_tmp.path());
    // Level 3 now names tasks of the dropped phases: the later file was really used.
    assert!(matches!(
        read_run(dir_tmp.path()),
        Err(ImportError::DanglingId { .. })
    ));
}
