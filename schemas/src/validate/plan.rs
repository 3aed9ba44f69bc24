//! The rules of a plan document: its texts, unique keys, the fields of every task and subtask,
//! the number of leaves, and dependencies that name a task or phase of the plan.

use std::collections::HashSet;

use serde_json::Value;

use super::{
    FieldError, NO_NUL, Validate, capability_name, limits, nul_free, nul_free_json, range_u32, text,
};
use crate::plan::{DocumentSubtask, DocumentTask, PlanDocument};

impl Validate for PlanDocument {
    fn check(&self, errors: &mut Vec<FieldError>) {
        text(errors, "title", &self.title, limits::NAME, true);
        text(
            errors,
            "description",
            &self.description,
            limits::TEXT,
            false,
        );
        if let Some(reference) = &self.source.reference {
            nul_free(errors, "source.reference", reference);
        }
        if let Some(id) = &self.source.planexe_project_id {
            nul_free(errors, "source.planexe_project_id", id);
        }
        if self.phases.is_empty() {
            errors.push(FieldError::new("phases", "a plan needs at least one phase"));
        }
        let mut keys = HashSet::new();
        let mut leaves = 0usize;
        for (p, phase) in self.phases.iter().enumerate() {
            let at = format!("phases[{p}]");
            key(errors, &mut keys, format!("{at}.key"), &phase.key);
            text(
                errors,
                &format!("{at}.title"),
                &phase.title,
                limits::NAME,
                true,
            );
            text(
                errors,
                &format!("{at}.description"),
                &phase.description,
                limits::TEXT,
                false,
            );
            for (t, task) in phase.tasks.iter().enumerate() {
                let at = format!("{at}.tasks[{t}]");
                key(errors, &mut keys, format!("{at}.key"), &task.key);
                Node::from(task).check(errors, &at);
                leaves += task.subtasks.len().max(1);
                for (s, sub) in task.subtasks.iter().enumerate() {
                    let at = format!("{at}.subtasks[{s}]");
                    key(errors, &mut keys, format!("{at}.key"), &sub.key);
                    Node::from(sub).check(errors, &at);
                }
            }
        }
        if leaves == 0 && !self.phases.is_empty() {
            errors.push(FieldError::new("phases", "the plan has no task to execute"));
        }
        if leaves > limits::PLAN_LEAVES {
            errors.push(FieldError::new(
                "phases",
                format!(
                    "{leaves} executable tasks; at most {} per plan",
                    limits::PLAN_LEAVES
                ),
            ));
        }
        dependencies(self, &keys, errors);
    }
}

/// A phase's, task's or subtask's key: free of NUL and used once in the plan.
fn key(
    errors: &mut Vec<FieldError>,
    keys: &mut HashSet<String>,
    field: String,
    k: &Option<String>,
) {
    if let Some(k) = k {
        nul_free(errors, &field, k);
        if !keys.insert(k.clone()) {
            errors.push(FieldError::new(field, format!("key {k:?} is used twice")));
        }
    }
}

/// What tasks and subtasks both carry.
struct Node<'a> {
    title: &'a str,
    description: &'a str,
    capability: &'a Option<String>,
    params: &'a Value,
    resources_needed: &'a [String],
    timeout_seconds: Option<u32>,
    max_attempts: Option<u32>,
}

impl<'a> From<&'a DocumentTask> for Node<'a> {
    fn from(task: &'a DocumentTask) -> Self {
        Self {
            title: &task.title,
            description: &task.description,
            capability: &task.capability,
            params: &task.params,
            resources_needed: &task.resources_needed,
            timeout_seconds: task.timeout_seconds,
            max_attempts: task.max_attempts,
        }
    }
}

impl<'a> From<&'a DocumentSubtask> for Node<'a> {
    fn from(sub: &'a DocumentSubtask) -> Self {
        Self {
            title: &sub.title,
            description: &sub.description,
            capability: &sub.capability,
            params: &sub.params,
            resources_needed: &sub.resources_needed,
            timeout_seconds: sub.timeout_seconds,
            max_attempts: sub.max_attempts,
        }
    }
}

impl Node<'_> {
    /// The node's fields, named under `at`.
    fn check(&self, errors: &mut Vec<FieldError>, at: &str) {
        text(
            errors,
            &format!("{at}.title"),
            self.title,
            limits::NAME,
            true,
        );
        text(
            errors,
            &format!("{at}.description"),
            self.description,
            limits::TEXT,
            false,
        );
        if let Some(c) = self.capability {
            capability_name(errors, &format!("{at}.capability"), c);
        }
        // What a leaf carries besides its title and description.
        nul_free_json(errors, &format!("{at}.params"), self.params);
        for (r, resource) in self.resources_needed.iter().enumerate() {
            nul_free(errors, &format!("{at}.resources_needed[{r}]"), resource);
        }
        range_u32(
            errors,
            &format!("{at}.timeout_seconds"),
            self.timeout_seconds,
            1,
            limits::TIMEOUT_SECONDS,
        );
        range_u32(
            errors,
            &format!("{at}.max_attempts"),
            self.max_attempts,
            1,
            limits::MAX_ATTEMPTS,
        );
    }
}

/// Dependencies may point at any task or phase key, before or after the task.
fn dependencies(plan: &PlanDocument, keys: &HashSet<String>, errors: &mut Vec<FieldError>) {
    for (p, phase) in plan.phases.iter().enumerate() {
        for (t, task) in phase.tasks.iter().enumerate() {
            for (d, dep) in task.depends_on.iter().enumerate() {
                let at = format!("phases[{p}].tasks[{t}].depends_on[{d}]");
                if let Some(explanation) = &dep.explanation {
                    text(
                        errors,
                        &format!("{at}.explanation"),
                        explanation,
                        limits::TEXT,
                        false,
                    );
                }
                if dep.key.contains('\0') {
                    errors.push(FieldError::new(format!("{at}.key"), NO_NUL));
                } else if !keys.contains(&dep.key) {
                    errors.push(FieldError::new(
                        format!("{at}.key"),
                        format!("no task or phase has key {:?}", dep.key),
                    ));
                }
            }
        }
    }
}
