//! Document phases, tasks and subtasks become the numbered output nodes, each leaf with its
//! capability (given by the document, else mapped) and its confidence.

use planexec_schemas::plan::{CapabilityChoice, DocumentPhase, DocumentSubtask, DocumentTask};

use crate::capability::map_capability;
use crate::confidence::{ConfidenceInputs, compute_confidence};
use crate::model::{Dependency, Leaf, Phase, Subtask, Task};
use crate::resolve::Resolved;

/// Phases numbered `1, 2, ...`, tasks `1.1, ...`, subtasks `1.1.1, ...`, in document order.
/// `planexe`: keys are PlanExe ids, kept as `planexe_id`. `reinterpreted`: WBS numbers of
/// dependents whose declared dependencies were dropped as containment; the leaves of their
/// tasks do not count their dependencies as analysed.
pub(crate) fn numbered_phases(
    phases: Vec<DocumentPhase>,
    resolved: Resolved,
    analysed: bool,
    planexe: bool,
    reinterpreted: &[String],
) -> Vec<Phase> {
    let Resolved {
        position,
        depends_on,
    } = resolved;
    let mut edges = depends_on.into_iter().zip(position);
    let mut out = Vec::with_capacity(phases.len());
    for (p, phase) in phases.into_iter().enumerate() {
        let mut tasks = Vec::with_capacity(phase.tasks.len());
        for (t, task) in phase.tasks.into_iter().enumerate() {
            let (depends_on, position) = edges.next().unwrap_or_default();
            let wbs = format!("{}.{}", p + 1, t + 1);
            let shared = Shared {
                has_duration: task.duration_days.is_some_and(|d| d.is_given()),
                analysed: analysed && !reinterpreted.iter().any(|d| touches(d, &wbs)),
                planexe,
            };
            tasks.push(task_node(task, wbs, position, depends_on, shared));
        }
        out.push(Phase {
            wbs: format!("{}", p + 1),
            title: phase.title,
            description: phase.description,
            planexe_id: phase.key.filter(|_| planexe),
            duration_days: phase.duration_days,
            tasks,
        });
    }
    out
}

/// Whether a dependent numbered `dependent` (a phase, task or subtask) stands for the task
/// numbered `task`: its phase, the task itself, or one of its subtasks.
fn touches(dependent: &str, task: &str) -> bool {
    let within = |inner: &str, outer: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    };
    within(task, dependent) || within(dependent, task)
}

/// Facts shared by all leaves of a task.
#[derive(Debug, Clone, Copy)]
struct Shared {
    has_duration: bool,
    /// Dependencies were analysed and none of the task's was reinterpreted as containment.
    analysed: bool,
    /// Keys are PlanExe ids, kept as `planexe_id`.
    planexe: bool,
}

fn task_node(
    task: DocumentTask,
    wbs: String,
    position: u32,
    depends_on: Vec<Dependency>,
    shared: Shared,
) -> Task {
    let leaf = task.subtasks.is_empty().then(|| {
        leaf(
            &task.title,
            &task.description,
            &task.resources_needed,
            task.capability.as_deref(),
            shared,
        )
    });
    let subtasks = task
        .subtasks
        .into_iter()
        .enumerate()
        .map(|(s, sub)| subtask_node(sub, format!("{wbs}.{}", s + 1), shared))
        .collect();
    Task {
        wbs,
        position,
        title: task.title,
        description: task.description,
        planexe_id: task.key.filter(|_| shared.planexe),
        duration_days: task.duration_days,
        resources_needed: task.resources_needed,
        depends_on,
        params: task.params,
        timeout_seconds: task.timeout_seconds,
        max_attempts: task.max_attempts,
        leaf,
        subtasks,
    }
}

fn subtask_node(sub: DocumentSubtask, wbs: String, shared: Shared) -> Subtask {
    let leaf = leaf(
        &sub.title,
        &sub.description,
        &sub.resources_needed,
        sub.capability.as_deref(),
        shared,
    );
    Subtask {
        wbs,
        title: sub.title,
        description: sub.description,
        planexe_id: sub.key.filter(|_| shared.planexe),
        resources_needed: sub.resources_needed,
        params: sub.params,
        timeout_seconds: sub.timeout_seconds,
        max_attempts: sub.max_attempts,
        leaf,
    }
}

/// The capability given by the document wins; otherwise the mapper decides.
fn leaf(
    title: &str,
    description: &str,
    resources: &[String],
    given: Option<&str>,
    shared: Shared,
) -> Leaf {
    let capability = match given {
        Some(c) => CapabilityChoice {
            capability: c.to_owned(),
            match_score: 1.0,
            evidence: "given in the plan document".to_owned(),
            chosen_by: "document".to_owned(),
        },
        None => map_capability(title, description, resources),
    };
    let inputs = ConfidenceInputs::for_leaf(
        &capability,
        description,
        shared.has_duration,
        shared.analysed,
    );
    Leaf {
        confidence: compute_confidence(&inputs),
        capability,
    }
}

#[cfg(test)]
mod tests {
    use super::touches;

    #[test]
    fn a_dependent_touches_the_tasks_it_stands_for() {
        assert!(touches("4", "4.1") && touches("4.1", "4.1") && touches("4.1.2", "4.1"));
        assert!(!touches("4", "14.1") && !touches("4.1", "4.10") && !touches("4.2.1", "4.1"));
    }
}
