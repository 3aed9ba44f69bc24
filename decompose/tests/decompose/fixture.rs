//! The dog breeder prospecting fixture: a PlanExe run (new file naming) whose every leaf is
//! work Larry can do, so it imports Ready.

use planexec_decompose::{decompose_plan, read_run};
use planexec_schemas::agent::capability::LARRY;
use planexec_schemas::plan::PlanStatus;

use crate::support::{RunFiles, fixture};

#[test]
fn the_prospecting_fixture_is_ready_with_high_confidence() {
    let d = decompose_plan(&fixture("dog_breeder_prospecting")).expect("fixture imports");
    assert!(
        d.confidence >= 0.7,
        "confidence {} with {:?}",
        d.confidence,
        d.review_reasons
    );
    assert_eq!(d.status, PlanStatus::Ready);
    assert!(d.review_reasons.is_empty());
}

#[test]
fn every_prospecting_leaf_maps_to_one_of_larrys_capabilities() {
    let d = decompose_plan(&fixture("dog_breeder_prospecting")).expect("fixture imports");
    for (task, sub, leaf) in d.leaves() {
        let wbs = sub.map_or(&task.wbs, |s| &s.wbs);
        assert!(
            LARRY.contains(&leaf.capability.capability.as_str()),
            "{wbs}: {:?}",
            leaf.capability
        );
        assert_eq!(leaf.capability.chosen_by, "auto");
        assert!(
            leaf.confidence >= 0.7,
            "{wbs}: {} ({})",
            leaf.confidence,
            leaf.capability.evidence
        );
    }
    let used: std::collections::BTreeSet<_> = d
        .leaves()
        .iter()
        .map(|(_, _, l)| l.capability.capability.clone())
        .collect();
    assert_eq!(
        used.len(),
        LARRY.len(),
        "the fixture exercises all eight capabilities: {used:?}"
    );
}

#[test]
fn the_prospecting_fixture_counts_match_its_files_and_it_is_a_complete_run() {
    let dir = fixture("dog_breeder_prospecting");
    let counts = RunFiles::from_dir(&dir).counts();
    let d = decompose_plan(&dir).expect("fixture imports");
    assert_eq!(
        (d.counts.phases, d.counts.tasks),
        (counts.phases, counts.tasks)
    );
    assert_eq!(Some(d.counts.subtasks), counts.subtasks);
    assert_eq!(Some(d.counts.dependencies), counts.dependency_pairs);
    assert_eq!(Some(d.counts.durations), counts.durations);
    assert!((25..=40).contains(&d.counts.subtasks) && (8..=12).contains(&d.counts.tasks));
    let run = read_run(&dir).expect("fixture reads");
    for suffix in [
        "-wbs_level1.json",
        "-wbs_level2.json",
        "-wbs_level3.json",
        "-task_dependencies_raw.json",
        "-task_durations.json",
        "-plan.txt",
        "-pipeline_complete.txt",
        "-project_plan.md",
    ] {
        assert!(
            run.files.iter().any(|(s, _)| *s == suffix),
            "fixture lacks {suffix}"
        );
    }
    assert!(
        d.description.starts_with("Find and interview"),
        "{}",
        d.description
    );
    assert!(
        d.phases
            .iter()
            .flat_map(|p| &p.tasks)
            .any(|t| t.depends_on.iter().any(|x| x.explanation.is_some()))
    );
}

#[test]
fn the_worked_example_in_docs_decomposition_md_holds() {
    let d = decompose_plan(&fixture("dog_breeder_prospecting")).expect("fixture imports");
    let (_, sub, leaf) = d
        .leaves()
        .into_iter()
        .find(|(_, s, _)| {
            s.is_some_and(|s| s.title == "Send introduction emails to all listed breeders")
        })
        .expect("the example leaf");
    assert_eq!(sub.map(|s| s.wbs.as_str()), Some("2.1.2"));
    assert_eq!(leaf.capability.capability, "send_email");
    assert_eq!(leaf.capability.match_score, 0.766);
    assert_eq!(leaf.confidence, 0.86);
    assert!(
        leaf.capability
            .evidence
            .ends_with("runner-up: manage_csv 1.8 vs 5.2"),
        "{}",
        leaf.capability.evidence
    );
}
