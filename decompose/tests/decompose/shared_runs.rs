//! Every real PlanExe run we were given imports with exactly the counts its files declare,
//! whether it arrives as a zip, as zip bytes, or unzipped in a folder.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use planexec_decompose::{Decomposition, decompose_plan, decompose_zip};
use planexec_schemas::plan::PlanSourceKind;

use crate::support::{Counts, RunFiles, shared_runs};

fn assert_matches_files(d: &Decomposition, counts: &Counts, label: &str) {
    assert_eq!(d.counts.phases, counts.phases, "{label}: phases");
    assert_eq!(d.counts.tasks, counts.tasks, "{label}: tasks");
    assert_eq!(
        Some(d.counts.subtasks),
        counts.subtasks,
        "{label}: subtasks"
    );
    assert_eq!(
        Some(d.counts.dependencies),
        counts.dependency_pairs,
        "{label}: dependency pairs"
    );
    assert_eq!(
        Some(d.counts.durations),
        counts.durations,
        "{label}: duration records"
    );
    assert_eq!(
        d.source.kind,
        Some(PlanSourceKind::Planexe),
        "{label}: source kind"
    );
    assert_eq!(
        d.source.planexe_project_id, counts.project_id,
        "{label}: project id"
    );
    let leaves = d.leaves();
    assert_eq!(leaves.len() as u32, d.counts.leaves, "{label}: leaves");
    assert!(
        (0.0..=1.0).contains(&d.confidence),
        "{label}: confidence {}",
        d.confidence
    );
    for (_, _, leaf) in &leaves {
        assert!(
            (0.0..=1.0).contains(&leaf.confidence),
            "{label}: leaf confidence {}",
            leaf.confidence
        );
        assert!(
            (0.0..=1.0).contains(&leaf.capability.match_score),
            "{label}: match score"
        );
    }
}

/// WBS numbers are `p`, `p.t`, `p.t.s` counting from 1 in document order, hence unique.
fn assert_wbs_well_formed(d: &Decomposition, label: &str) {
    let mut seen = HashSet::new();
    for (p, phase) in d.phases.iter().enumerate() {
        assert_eq!(phase.wbs, format!("{}", p + 1), "{label}");
        assert!(
            seen.insert(phase.wbs.clone()),
            "{label}: duplicate {}",
            phase.wbs
        );
        for (t, task) in phase.tasks.iter().enumerate() {
            assert_eq!(task.wbs, format!("{}.{}", p + 1, t + 1), "{label}");
            assert!(
                seen.insert(task.wbs.clone()),
                "{label}: duplicate {}",
                task.wbs
            );
            assert_eq!(
                task.leaf.is_some(),
                task.subtasks.is_empty(),
                "{label}: {} leaf",
                task.wbs
            );
            for (s, sub) in task.subtasks.iter().enumerate() {
                assert_eq!(sub.wbs, format!("{}.{}.{}", p + 1, t + 1, s + 1), "{label}");
                assert!(
                    seen.insert(sub.wbs.clone()),
                    "{label}: duplicate {}",
                    sub.wbs
                );
            }
        }
    }
}

/// Positions are a permutation of 0..n and every task comes after what it waits for; every
/// declared pair between tasks is an edge of the plan.
fn assert_dependencies_resolved_and_ordered(d: &Decomposition, counts: &Counts, label: &str) {
    let tasks: Vec<_> = d.phases.iter().flat_map(|p| &p.tasks).collect();
    let position: HashMap<&str, u32> = tasks.iter().map(|t| (t.wbs.as_str(), t.position)).collect();
    let mut positions: Vec<u32> = position.values().copied().collect();
    positions.sort_unstable();
    assert_eq!(
        positions,
        (0..tasks.len() as u32).collect::<Vec<_>>(),
        "{label}: positions"
    );
    for task in &tasks {
        for dep in &task.depends_on {
            let on = position.get(dep.on_wbs.as_str());
            let on = on.unwrap_or_else(|| {
                panic!("{label}: {} depends on unknown {}", task.wbs, dep.on_wbs)
            });
            assert!(
                *on < task.position,
                "{label}: {} runs before its dependency {}",
                task.wbs,
                dep.on_wbs
            );
        }
    }
    let by_id: HashMap<&str, &str> = tasks
        .iter()
        .filter_map(|t| Some((t.planexe_id.as_deref()?, t.wbs.as_str())))
        .collect();
    for (dependent, on) in &counts.pairs {
        let (Some(dependent), Some(on)) = (by_id.get(dependent.as_str()), by_id.get(on.as_str()))
        else {
            continue; // a phase id: expanded, checked by the ordering above
        };
        let task = tasks
            .iter()
            .find(|t| t.wbs == *dependent)
            .expect("task by wbs");
        assert!(
            task.depends_on.iter().any(|x| x.on_wbs == *on),
            "{label}: missing edge {dependent} → {on}"
        );
    }
}

fn check(d: &Decomposition, counts: &Counts, label: &str) {
    assert_matches_files(d, counts, label);
    assert_wbs_well_formed(d, label);
    assert_dependencies_resolved_and_ordered(d, counts, label);
}

#[test]
fn every_shared_run_imports_from_its_zip_with_the_counts_its_files_declare() {
    for zip in shared_runs() {
        let counts = RunFiles::from_zip(&zip).counts();
        let label = zip.display().to_string();
        let d = decompose_plan(&zip).unwrap_or_else(|e| panic!("{label}: {e}"));
        check(&d, &counts, &label);
        let name = zip.file_name().expect("name").to_string_lossy();
        assert_eq!(d.source.reference.as_deref(), Some(name.as_ref()));
    }
}

#[test]
fn every_shared_run_imports_from_uploaded_zip_bytes() {
    for zip in shared_runs() {
        let counts = RunFiles::from_zip(&zip).counts();
        let name = zip
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&zip).expect("read zip");
        let d = decompose_zip(&name, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        check(&d, &counts, &name);
        assert_eq!(d.source.reference.as_deref(), Some(name.as_str()));
    }
}

#[test]
fn every_shared_run_imports_from_an_unzipped_folder_with_mac_clutter() {
    for zip in shared_runs() {
        let files = RunFiles::from_zip(&zip);
        let counts = files.counts();
        let dir = tempfile::tempdir().expect("tempdir");
        files.write_dir(dir.path());
        let label = format!("{} unzipped", zip.display());
        let d = decompose_plan(dir.path()).unwrap_or_else(|e| panic!("{label}: {e}"));
        check(&d, &counts, &label);
        // The run's own subfolder works too.
        let inner = files.path_of("-wbs_level2.json").expect("level 2");
        let run_dir = dir
            .path()
            .join(Path::new(&inner).parent().expect("run folder"));
        let d = decompose_plan(&run_dir).unwrap_or_else(|e| panic!("{label} (run folder): {e}"));
        check(&d, &counts, &label);
    }
}

#[test]
fn real_runs_mostly_need_review_and_say_why() {
    for zip in shared_runs() {
        let d = decompose_plan(&zip).expect("import");
        if d.confidence < planexec_decompose::REVIEW_THRESHOLD {
            assert!(
                d.review_reasons[0].starts_with("confidence "),
                "{:?}",
                d.review_reasons
            );
            assert!(d.summary().needs_review);
        }
    }
}
