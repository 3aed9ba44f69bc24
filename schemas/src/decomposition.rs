//! A decomposed plan: what the importer (`planexec-decompose`) makes of a PlanExe run or a plan
//! document, and what the store writes as a plan. It lives here, not in the importer, so that
//! the store (and the coordinator, which links the store) does not link the importer.
//!
//! Phases hold tasks (level 2), tasks hold subtasks (level 3). Every executable unit (a leaf:
//! a subtask, or a task without subtasks) carries the capability it needs and a confidence.
//! `position` orders tasks topologically (WBS order between independent tasks), so that running
//! leaves in `(task.position, subtask index)` order honours every dependency.

use crate::plan::{
    CapabilityChoice, DurationDays, ImportSummary, PlanCounts, PlanSource, PlanStatus, ReviewItem,
};
use serde_json::Value;

/// Plans below this confidence wait for an operator (NEEDS_REVIEW).
pub const REVIEW_THRESHOLD: f64 = 0.7;

/// A decomposed plan: the tree, its confidence, and what a reviewer should know.
#[derive(Debug, Clone, PartialEq)]
pub struct Decomposition {
    pub title: String,
    pub description: String,
    pub source: PlanSource,
    pub phases: Vec<Phase>,
    /// Mean confidence of the leaves, 0..1.
    pub confidence: f64,
    /// `Ready` at or above [`REVIEW_THRESHOLD`], else `NeedsReview`.
    pub status: PlanStatus,
    pub review_reasons: Vec<String>,
    pub warnings: Vec<String>,
    pub counts: PlanCounts,
}

/// A phase (level 2 of the WBS, below the project) and its tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// `1`, `2`, ...
    pub wbs: String,
    pub title: String,
    pub description: String,
    pub planexe_id: Option<String>,
    pub duration_days: Option<DurationDays>,
    pub tasks: Vec<Task>,
}

/// A task of a phase: a leaf itself, or the parent of its subtasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// `1.1`, `1.2`, ...
    pub wbs: String,
    /// Topological order over all tasks of the plan, from 0.
    pub position: u32,
    pub title: String,
    pub description: String,
    pub planexe_id: Option<String>,
    pub duration_days: Option<DurationDays>,
    pub resources_needed: Vec<String>,
    /// Tasks (by WBS number) that must complete first; a dependency on a phase is expanded
    /// to the phase's tasks.
    pub depends_on: Vec<Dependency>,
    pub params: Value,
    pub timeout_seconds: Option<u32>,
    pub max_attempts: Option<u32>,
    /// Set when the task has no subtasks: the task itself is the leaf.
    pub leaf: Option<Leaf>,
    pub subtasks: Vec<Subtask>,
}

/// A task that must complete before the one that names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub on_wbs: String,
    pub explanation: Option<String>,
}

/// What makes a node executable: the capability and how sure we are of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub capability: CapabilityChoice,
    pub confidence: f64,
}

/// A subtask (level 3): always a leaf.
#[derive(Debug, Clone, PartialEq)]
pub struct Subtask {
    /// `1.1.1`, ...
    pub wbs: String,
    pub title: String,
    pub description: String,
    pub planexe_id: Option<String>,
    pub resources_needed: Vec<String>,
    pub params: Value,
    pub timeout_seconds: Option<u32>,
    pub max_attempts: Option<u32>,
    pub leaf: Leaf,
}

impl Decomposition {
    /// Every leaf in execution order, with the task it belongs to.
    pub fn leaves(&self) -> Vec<(&Task, Option<&Subtask>, &Leaf)> {
        let mut tasks: Vec<&Task> = self.phases.iter().flat_map(|p| &p.tasks).collect();
        tasks.sort_by_key(|t| t.position);
        let mut out = Vec::new();
        for task in tasks {
            if let Some(leaf) = &task.leaf {
                out.push((task, None, leaf));
            }
            for sub in &task.subtasks {
                out.push((task, Some(sub), &sub.leaf));
            }
        }
        out
    }

    /// The summary printed by `planexec plan import` and returned by `POST /api/plans`.
    pub fn summary(&self) -> ImportSummary {
        let leaves = self.leaves();
        let mut capabilities = std::collections::BTreeMap::new();
        for (_, _, leaf) in &leaves {
            *capabilities
                .entry(leaf.capability.capability.clone())
                .or_insert(0u32) += 1;
        }
        let mut review: Vec<ReviewItem> = leaves
            .iter()
            .map(|(task, sub, leaf)| ReviewItem {
                wbs: sub.map_or(&task.wbs, |s| &s.wbs).clone(),
                title: sub.map_or(&task.title, |s| &s.title).clone(),
                capability: leaf.capability.capability.clone(),
                confidence: leaf.confidence,
                evidence: leaf.capability.evidence.clone(),
            })
            .filter(|item| item.confidence < REVIEW_THRESHOLD)
            .collect();
        review.sort_by(|a, b| a.confidence.total_cmp(&b.confidence));
        review.truncate(20);
        ImportSummary {
            id: None,
            title: self.title.clone(),
            source: self.source.clone(),
            phases: self.counts.phases,
            tasks: self.counts.tasks,
            subtasks: self.counts.subtasks,
            dependencies: self.counts.dependencies,
            durations: self.counts.durations,
            leaves: self.counts.leaves,
            confidence: self.confidence,
            needs_review: self.status == PlanStatus::NeedsReview,
            status: self.status,
            capabilities,
            review,
            review_reasons: self.review_reasons.clone(),
            warnings: self.warnings.clone(),
        }
    }
}
