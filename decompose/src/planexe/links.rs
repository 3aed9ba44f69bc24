//! What PlanExe says about tasks beyond the tree: dependencies and duration estimates.
//!
//! Dependencies are a contract (a task must wait), but their ids are copied by a language model
//! and PlanExe's own scheduler skips one that names no task ("Task with id … not found. Cannot
//! set dependency"). So an id that names nothing is an error only in strict mode; by default
//! the dependency is dropped and noted as a [`DanglingDependency`], which the caller turns into
//! warnings and a forced review. Durations only inform the confidence and the schedule, so a
//! record for an unknown id is noted as a warning and skipped. Both are counted exactly as
//! declared in the files.

use std::collections::HashMap;

use planexec_schemas::plan::{DocumentDependency, DurationDays};

use super::wbs::{Node, Tree};
use crate::error::ImportError;
use crate::json::At;

/// What the ids of a dependency file may name, as error messages and warnings say it.
pub(crate) const DEPENDENCY_TARGET: &str =
    "a phase or task of this plan (ids of the -wbs_level2.json file)";

/// A dependency id that names no phase or task of the plan, ignored by a lenient import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DanglingDependency {
    /// The dependency file, as messages name it (the path inside the zip, or the full path).
    pub file: String,
    /// JSON path of the id, e.g. `$.task_dependency_details[3].depends_on_task_id_list[1]`,
    /// or `$.task_dependency_details[3].dependent_task_id` (then the whole record is dropped).
    pub field: String,
    pub id: String,
    /// Declared `(dependent, depends_on)` pairs dropped because of this id.
    pub pairs: u32,
}

/// Dependencies by dependent task `(phase, task)`, in declaration order.
#[derive(Debug, Default)]
pub(crate) struct Dependencies {
    /// `(dependent, depends_on)` pairs as declared, before a phase is expanded to its tasks,
    /// including those dropped for a dangling id.
    pub declared_pairs: u32,
    pub by_task: HashMap<(usize, usize), Vec<DocumentDependency>>,
    /// Ids that named nothing (lenient mode only; strict mode fails on the first).
    pub dangling: Vec<DanglingDependency>,
}

/// `{task_dependency_details: [{dependent_task_id, depends_on_task_id_list,
/// depends_on_task_explanation_list}]}`; ids name level-2 tasks, or phases (all their tasks).
/// `strict`: an id that names nothing is [`ImportError::DanglingId`]; otherwise the
/// dependency is dropped and noted in [`Dependencies::dangling`]. Shape errors fail either way.
pub(crate) fn read_dependencies(
    root: &At<'_>,
    tree: &Tree,
    strict: bool,
) -> Result<Dependencies, ImportError> {
    let details = if root.value.is_array() {
        root.items("a list of dependency records")?
    } else {
        root.expect_object()?;
        root.get("task_dependency_details")
            .items_or_empty("a list of dependency records")?
    };
    let mut out = Dependencies::default();
    for detail in details {
        detail.expect_object()?;
        let dependent_at = detail.get("dependent_task_id");
        let dependent = dependent_at.id()?;
        let dependents = tasks_named(tree, &dependent);
        if dependents.is_none() && strict {
            return Err(dangling(&dependent_at, &dependent));
        }
        let explanations = detail.get("depends_on_task_explanation_list");
        let explanations = if explanations.value.is_array() {
            explanations.items("a list")?
        } else {
            Vec::new()
        };
        let targets = detail
            .get("depends_on_task_id_list")
            .items_or_empty("a list of task ids")?;
        let Some(dependents) = dependents else {
            // The record's dependent names nothing: all of its pairs go, each still counted.
            for target_at in &targets {
                target_at.id()?;
            }
            let pairs = u32::try_from(targets.len()).unwrap_or(u32::MAX);
            out.declared_pairs = out.declared_pairs.saturating_add(pairs);
            out.dangling.push(noted(&dependent_at, dependent, pairs));
            continue;
        };
        for (i, target_at) in targets.iter().enumerate() {
            let target = target_at.id()?;
            out.declared_pairs = out.declared_pairs.saturating_add(1);
            if tasks_named(tree, &target).is_none() {
                if strict {
                    return Err(dangling(target_at, &target));
                }
                out.dangling.push(noted(target_at, target, 1));
                continue;
            }
            let explanation = explanations
                .get(i)
                .and_then(|e| e.text().ok().flatten())
                .filter(|e| !e.is_empty());
            for task in &dependents {
                out.by_task
                    .entry(*task)
                    .or_default()
                    .push(DocumentDependency {
                        key: target.clone(),
                        explanation: explanation.clone(),
                    });
            }
        }
    }
    Ok(out)
}

/// The tasks an id stands for: a phase's tasks (none for a phase without tasks), a task, or
/// the task of a subtask; `None` when it names no phase or task.
fn tasks_named(tree: &Tree, id: &str) -> Option<Vec<(usize, usize)>> {
    match tree.node(id) {
        Some(Node::Phase(p)) => Some((0..tree.phases[p].tasks.len()).map(|t| (p, t)).collect()),
        Some(Node::Task(p, t) | Node::Subtask(p, t, _)) => Some(vec![(p, t)]),
        Some(Node::Project) | None => None,
    }
}

fn dangling(at: &At<'_>, id: &str) -> ImportError {
    ImportError::DanglingId {
        file: at.file.to_owned(),
        field: at.path.clone(),
        id: id.to_owned(),
        expected: DEPENDENCY_TARGET.to_owned(),
    }
}

fn noted(at: &At<'_>, id: String, pairs: u32) -> DanglingDependency {
    DanglingDependency {
        file: at.file.to_owned(),
        field: at.path.clone(),
        id,
        pairs,
    }
}

/// Duration estimates by phase or task.
#[derive(Debug, Default)]
pub(crate) struct Durations {
    /// Records in the file, whatever they name.
    pub records: u32,
    pub by_node: HashMap<Node, DurationDays>,
    /// Ids (or record positions) that name no phase or task of the plan.
    pub unknown: Vec<String>,
}

/// `[{task_id, days_min, days_max, days_realistic, ...}]`; `-1` means not given.
pub(crate) fn read_durations(root: &At<'_>, tree: &Tree) -> Result<Durations, ImportError> {
    let mut out = Durations::default();
    for record in root.items("a list of duration records")? {
        record.expect_object()?;
        out.records += 1;
        let days = DurationDays {
            min: record.get("days_min").days()?,
            realistic: record.get("days_realistic").days()?,
            max: record.get("days_max").days()?,
        };
        match record.get("task_id").text()?.filter(|id| !id.is_empty()) {
            None => out.unknown.push(format!("{} (no task_id)", record.path)),
            Some(id) => match tree.node(&id) {
                Some(node @ (Node::Phase(_) | Node::Task(..))) => {
                    out.by_node.insert(node, days);
                }
                // The project's own estimate has nowhere to go and is no mistake.
                Some(Node::Project) => {}
                Some(Node::Subtask(..)) | None => out.unknown.push(id),
            },
        }
    }
    Ok(out)
}
