//! Dependencies between the tasks of a PlanExe run (`-task_dependencies_raw.json`).
//!
//! Dependencies are a contract (a task must wait), but their ids are copied by a language model
//! and PlanExe's own scheduler skips one that names no task ("Task with id … not found. Cannot
//! set dependency"). So an id that names nothing is an error only in strict mode; by default
//! the dependency is dropped and noted as a [`DanglingDependency`], which the caller turns into
//! warnings and a forced review.
//!
//! PlanExe also writes containment as a dependency: a task "depends on" its own phase ("X is
//! a subtask of Y and therefore dependent on it"), or a phase on one of its tasks. Read as an
//! order of work that is a cycle no plan could satisfy, but it states no order at all, so a
//! lenient import drops it as a [`ContainmentDependency`] (warning, review) and a strict one
//! refuses it. A node that depends on itself (or a subtask on a sibling: both wait as their
//! task) is a cycle in both modes. Pairs are counted exactly as declared, whatever becomes of
//! them.

use std::collections::HashMap;

use planexec_schemas::plan::DocumentDependency;

use super::wbs::{Node, Tree};
use crate::error::{ContainmentDependency, ImportError};
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
    /// including those dropped for a dangling id or as containment.
    pub declared_pairs: u32,
    pub by_task: HashMap<(usize, usize), Vec<DocumentDependency>>,
    /// Ids that named nothing (lenient mode only; strict mode fails on the first).
    pub dangling: Vec<DanglingDependency>,
    /// Containment pairs that were dropped (lenient mode only; strict mode fails on the first).
    pub containment: Vec<ContainmentDependency>,
}

/// `{task_dependency_details: [{dependent_task_id, depends_on_task_id_list,
/// depends_on_task_explanation_list}]}`; ids name level-2 tasks, or phases (all their tasks).
/// `strict`: an id that names nothing is [`ImportError::DanglingId`] and a containment pair
/// [`ImportError::ContainmentDependency`]; otherwise both are dropped and noted. Shape errors
/// and self-dependencies fail either way.
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
    for detail in &details {
        read_record(&mut out, detail, tree, strict)?;
    }
    Ok(out)
}

/// One `{dependent_task_id, depends_on_task_id_list, depends_on_task_explanation_list}`.
fn read_record(
    out: &mut Dependencies,
    detail: &At<'_>,
    tree: &Tree,
    strict: bool,
) -> Result<(), ImportError> {
    detail.expect_object()?;
    let dependent_at = detail.get("dependent_task_id");
    let dependent = dependent_at.id()?;
    let dependent_node = named(tree, &dependent);
    if dependent_node.is_none() && strict {
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
    let Some(dependent_node) = dependent_node else {
        // The record's dependent names nothing: all of its pairs go, each still counted.
        for target_at in &targets {
            target_at.id()?;
        }
        let pairs = u32::try_from(targets.len()).unwrap_or(u32::MAX);
        out.declared_pairs = out.declared_pairs.saturating_add(pairs);
        out.dangling.push(noted(&dependent_at, dependent, pairs));
        return Ok(());
    };
    let dependents = tasks_of(tree, dependent_node);
    for (i, target_at) in targets.iter().enumerate() {
        let target = target_at.id()?;
        out.declared_pairs = out.declared_pairs.saturating_add(1);
        let Some(target_node) = named(tree, &target) else {
            if strict {
                return Err(dangling(target_at, &target));
            }
            out.dangling.push(noted(target_at, target, 1));
            continue;
        };
        if let Some(node) = waits_for_itself(dependent_node, target_node) {
            let step = tree.step(node);
            return Err(ImportError::Cycle {
                file: target_at.file.to_owned(),
                cycle: vec![step.clone(), step],
            });
        }
        let explanation = explanations
            .get(i)
            .and_then(|e| e.text().ok().flatten())
            .filter(|e| !e.is_empty());
        if dependent_node.nested(target_node) {
            let containment = ContainmentDependency {
                file: target_at.file.to_owned(),
                field: target_at.path.clone(),
                dependent: tree.step(dependent_node),
                depends_on: tree.step(target_node),
                explanation,
            };
            if strict {
                return Err(ImportError::ContainmentDependency(Box::new(containment)));
            }
            out.containment.push(containment);
            continue;
        }
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
    Ok(())
}

/// The node that would wait for itself: the dependent when it names itself, or the task of
/// two of its own subtasks (tasks are what wait, so subtasks wait as their task).
fn waits_for_itself(dependent: Node, target: Node) -> Option<Node> {
    match (dependent, target) {
        _ if dependent == target => Some(dependent),
        (Node::Subtask(p, t, _), Node::Subtask(q, u, _)) if (p, t) == (q, u) => {
            Some(Node::Task(p, t))
        }
        _ => None,
    }
}

/// The phase, task or subtask an id names; `None` for the project or an unknown id.
fn named(tree: &Tree, id: &str) -> Option<Node> {
    tree.node(id).filter(|n| *n != Node::Project)
}

/// The tasks a node stands for as a dependent: a phase's tasks (none for a phase without
/// tasks), a task, or the task of a subtask.
fn tasks_of(tree: &Tree, node: Node) -> Vec<(usize, usize)> {
    match node {
        Node::Phase(p) => (0..tree.phases[p].tasks.len()).map(|t| (p, t)).collect(),
        Node::Task(p, t) | Node::Subtask(p, t, _) => vec![(p, t)],
        Node::Project => Vec::new(),
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
