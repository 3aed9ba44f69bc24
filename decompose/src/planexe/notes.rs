//! What a lenient import says about the dependencies it dropped: one warning per dropped
//! dependency (as precise as the error a strict import returns) and one review reason per kind.

use super::links::{DEPENDENCY_TARGET, DanglingDependency};
use crate::error::ContainmentDependency;

/// At most this many dropped dependencies (of each kind) get a warning line of their own.
const ONE_BY_ONE: usize = 20;

/// One warning per dropped dependency id (the first [`ONE_BY_ONE`]), as precise as the
/// [`crate::ImportError::DanglingId`] a strict import would have returned.
pub(crate) fn dangling_warnings(dangling: &[DanglingDependency]) -> Vec<String> {
    let mut out: Vec<String> = dangling
        .iter()
        .take(ONE_BY_ONE)
        .map(|d| {
            let dropped = match d.pairs {
                1 => "the dependency was ignored".to_owned(),
                n => format!("the {n} dependencies of its record were ignored"),
            };
            format!(
                "{}: {} names {:?}, which is not {}; {dropped}, as PlanExe's own scheduler does",
                d.file, d.field, d.id, DEPENDENCY_TARGET
            )
        })
        .collect();
    if let Some(rest) = dangling.get(ONE_BY_ONE..).filter(|r| !r.is_empty()) {
        let ids: Vec<String> = rest.iter().map(|d| format!("{:?}", d.id)).collect();
        out.push(format!(
            "{}: {} more dependency ids name no phase or task of this plan and were ignored: {}",
            rest[0].file,
            rest.len(),
            ids.join(", ")
        ));
    }
    out
}

/// The review reason for dropped dependencies, e.g. `2 dependencies name tasks that are not in
/// the plan (…-task_dependencies_raw.json: $.task_dependency_details[3].depends_on_task_id_list[1]
/// = "…"); they were ignored`. `None` when no declared pair was dropped.
pub(crate) fn dropped_dependencies_reason(dangling: &[DanglingDependency]) -> Option<String> {
    const SHOWN: usize = 3;
    let dropped: Vec<&DanglingDependency> = dangling.iter().filter(|d| d.pairs > 0).collect();
    let pairs = dropped.iter().fold(0u32, |n, d| n.saturating_add(d.pairs));
    let file = &dropped.first()?.file;
    let mut places: Vec<String> = dropped
        .iter()
        .take(SHOWN)
        .map(|d| format!("{} = {:?}", d.field, d.id))
        .collect();
    if dropped.len() > SHOWN {
        places.push(format!("and {} more", dropped.len() - SHOWN));
    }
    let (head, tail) = match pairs {
        1 => (
            "1 dependency names a task that is".to_owned(),
            "it was ignored",
        ),
        n => (
            format!("{n} dependencies name tasks that are"),
            "they were ignored",
        ),
    };
    Some(format!(
        "{head} not in the plan ({file}: {}); {tail}",
        places.join(", ")
    ))
}

/// One warning per containment pair dropped (the first [`ONE_BY_ONE`]), naming both ends
/// and the planner's explanation.
pub(crate) fn containment_warnings(dropped: &[ContainmentDependency]) -> Vec<String> {
    let mut out: Vec<String> = dropped
        .iter()
        .take(ONE_BY_ONE)
        .map(|c| {
            format!(
                "{}; that is containment, not an order of work, so the dependency was dropped",
                c.what()
            )
        })
        .collect();
    if let Some(rest) = dropped.get(ONE_BY_ONE..).filter(|r| !r.is_empty()) {
        out.push(format!(
            "{}: {} more dependencies tie a node to its own phase, task or subtask and were dropped: {}",
            rest[0].file,
            rest.len(),
            pairs(rest)
        ));
    }
    out
}

/// The review reason for containment pairs dropped, e.g. `1 dependency ties a task to its own
/// phase or subtask: it was reinterpreted as containment, not an order of work, and dropped
/// (…-task_dependencies_raw.json: 4.1 on 4)`. `None` when there were none.
pub(crate) fn containment_reason(dropped: &[ContainmentDependency]) -> Option<String> {
    const SHOWN: usize = 3;
    let file = &dropped.first()?.file;
    let mut shown = pairs(&dropped[..dropped.len().min(SHOWN)]);
    if dropped.len() > SHOWN {
        shown = format!("{shown}, and {} more", dropped.len() - SHOWN);
    }
    let head = match dropped.len() {
        1 => "1 dependency ties a task to its own phase or subtask: it was".to_owned(),
        n => format!("{n} dependencies tie a task to its own phase or subtask: they were"),
    };
    Some(format!(
        "{head} reinterpreted as containment, not an order of work, and dropped ({file}: {shown})"
    ))
}

/// `4.1 on 4, 4 on 4.2` by WBS numbers.
fn pairs(dropped: &[ContainmentDependency]) -> String {
    dropped
        .iter()
        .map(|c| format!("{} on {}", c.dependent.wbs, c.depends_on.wbs))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dangling(field: &str, id: &str, pairs: u32) -> DanglingDependency {
        DanglingDependency {
            file: "run/021-task_dependencies_raw.json".to_owned(),
            field: field.to_owned(),
            id: id.to_owned(),
            pairs,
        }
    }

    #[test]
    fn dropped_dependencies_give_one_reason_with_their_places() {
        assert_eq!(dropped_dependencies_reason(&[]), None);
        assert_eq!(
            dropped_dependencies_reason(&[dangling("$.x[0].dependent_task_id", "a", 0)]),
            None,
            "a record without targets drops nothing"
        );
        assert_eq!(
            dropped_dependencies_reason(&[dangling("$.x[3].depends_on_task_id_list[1]", "a", 1)])
                .as_deref(),
            Some(
                "1 dependency names a task that is not in the plan (run/021-task_dependencies_raw.json: $.x[3].depends_on_task_id_list[1] = \"a\"); it was ignored"
            )
        );
        let many: Vec<_> = (0..5)
            .map(|i| dangling(&format!("$.x[{i}].dependent_task_id"), "g", 2))
            .collect();
        let reason = dropped_dependencies_reason(&many).expect("reason");
        assert!(
            reason.starts_with("10 dependencies name tasks that are not in the plan (")
                && reason
                    .contains("$.x[2].dependent_task_id = \"g\", and 2 more); they were ignored"),
            "{reason}"
        );
    }

    #[test]
    fn every_dangling_id_gets_a_warning_up_to_a_bound() {
        let one = dangling_warnings(&[dangling("$.x[0].dependent_task_id", "g", 3)]);
        assert_eq!(
            one,
            [
                "run/021-task_dependencies_raw.json: $.x[0].dependent_task_id names \"g\", which is not a phase or task of this plan (ids of the -wbs_level2.json file); the 3 dependencies of its record were ignored, as PlanExe's own scheduler does"
            ]
        );
        let many: Vec<_> = (0..ONE_BY_ONE + 2)
            .map(|i| {
                dangling(
                    &format!("$.x[{i}].depends_on_task_id_list[0]"),
                    &format!("g{i}"),
                    1,
                )
            })
            .collect();
        let warnings = dangling_warnings(&many);
        assert_eq!(warnings.len(), ONE_BY_ONE + 1);
        assert!(
            warnings[ONE_BY_ONE].contains("2 more dependency ids")
                && warnings[ONE_BY_ONE].contains("\"g21\""),
            "{}",
            warnings[ONE_BY_ONE]
        );
    }

    fn contained(dependent: &str, depends_on: &str, why: Option<&str>) -> ContainmentDependency {
        let step = |wbs: &str| crate::error::CycleStep {
            wbs: wbs.to_owned(),
            key: Some(format!("id-{wbs}")),
        };
        ContainmentDependency {
            file: "run/021-task_dependencies_raw.json".to_owned(),
            field: "$.task_dependency_details[2].depends_on_task_id_list[0]".to_owned(),
            dependent: step(dependent),
            depends_on: step(depends_on),
            explanation: why.map(str::to_owned),
        }
    }

    #[test]
    fn a_containment_warning_names_both_ends_and_the_explanation() {
        let why = "4.1 is a subtask of 4 and therefore dependent on it";
        assert_eq!(
            containment_warnings(&[contained("4.1", "4", Some(why))]),
            [format!(
                "run/021-task_dependencies_raw.json: $.task_dependency_details[2].depends_on_task_id_list[0]: 4.1 (id-4.1) depends on 4 (id-4), its own phase (\"{why}\"); that is containment, not an order of work, so the dependency was dropped"
            )]
        );
        let reverse = containment_warnings(&[contained("4", "4.2.1", None)]);
        assert!(
            reverse[0].contains("4 (id-4) depends on 4.2.1 (id-4.2.1), one of its own subtasks;"),
            "{reverse:?}"
        );
        let many: Vec<_> = (0..ONE_BY_ONE + 2)
            .map(|i| contained(&format!("2.{}", i + 1), "2", None))
            .collect();
        let warnings = containment_warnings(&many);
        assert_eq!(warnings.len(), ONE_BY_ONE + 1);
        assert!(
            warnings[ONE_BY_ONE].contains("2 more dependencies")
                && warnings[ONE_BY_ONE].ends_with("2.21 on 2, 2.22 on 2"),
            "{}",
            warnings[ONE_BY_ONE]
        );
    }

    #[test]
    fn containment_gives_one_review_reason_with_its_pairs() {
        assert_eq!(containment_reason(&[]), None);
        assert_eq!(
            containment_reason(&[contained("4.1", "4", None)]).as_deref(),
            Some(
                "1 dependency ties a task to its own phase or subtask: it was reinterpreted as containment, not an order of work, and dropped (run/021-task_dependencies_raw.json: 4.1 on 4)"
            )
        );
        let many: Vec<_> = ["1.1", "1.2", "1.3", "1.4"]
            .iter()
            .map(|t| contained(t, "1", None))
            .collect();
        let reason = containment_reason(&many).expect("reason");
        assert!(
            reason.starts_with("4 dependencies tie a task")
                && reason.ends_with(
                    "(run/021-task_dependencies_raw.json: 1.1 on 1, 1.2 on 1, 1.3 on 1, and 1 more)"
                ),
            "{reason}"
        );
    }
}
