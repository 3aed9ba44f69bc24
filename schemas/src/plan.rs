//! Plans: what PlanExe (or anyone) asks us to do, decomposed into executable tasks.
//!
//! A plan has three levels, as PlanExe's work breakdown structure does: the project (the plan
//! itself), its phases and their tasks (level 2, numbered `1`, `1.1`, `1.2`, ...), and the
//! subtasks of a task (level 3, `1.1.1`, ...). The unit handed to an agent is a *leaf*: a
//! subtask where the task has subtasks, else the task itself.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Id, Timestamp};

/// Where a plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanSourceKind {
    /// A PlanExe run folder or its zip.
    Planexe,
    /// A plan document of our own ([`PlanDocument`]).
    Document,
    /// A decomposition uploaded by an operator to replace the automatic one.
    Manual,
}

impl PlanSourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planexe => "planexe",
            Self::Document => "document",
            Self::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "planexe" => Some(Self::Planexe),
            "document" => Some(Self::Document),
            "manual" => Some(Self::Manual),
            _ => None,
        }
    }
}

/// Provenance of a plan, kept for traceability back to PlanExe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PlanSource {
    /// How the plan arrived; `document` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PlanSourceKind>,
    /// The file, folder or URL it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// PlanExe's id of the project (its level-1 id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planexe_project_id: Option<String>,
}

/// Whether a plan may start executing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Confidence is at or above the threshold: executions start at once.
    Ready,
    /// Confidence is below the threshold: executions wait in NEEDS_REVIEW for an operator.
    NeedsReview,
    /// An operator approved it (or uploaded a manual decomposition).
    Approved,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::NeedsReview => "needs_review",
            Self::Approved => "approved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ready" => Some(Self::Ready),
            "needs_review" => Some(Self::NeedsReview),
            "approved" => Some(Self::Approved),
            _ => None,
        }
    }

    /// Executions of the plan may start.
    pub fn is_startable(self) -> bool {
        !matches!(self, Self::NeedsReview)
    }
}

/// Duration estimate in days, as PlanExe gives it; a missing value (PlanExe's `-1`) is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct DurationDays {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realistic: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl DurationDays {
    /// At least one of the three figures is known.
    pub fn is_given(&self) -> bool {
        self.min.is_some() || self.realistic.is_some() || self.max.is_some()
    }
}

/// Who chose a leaf's capability, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CapabilityChoice {
    /// The capability an agent needs to do this leaf.
    pub capability: String,
    /// How well the text of the task matches the capability, 0..1.
    pub match_score: f64,
    /// The words or rule that led to the choice, for a reviewer to check.
    pub evidence: String,
    /// `auto` (the mapper), `document` (given in the input), `operator` (edited by hand).
    pub chosen_by: String,
}

/// One node of a stored plan: a phase (`kind = phase`) or a task (`kind = task`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanTask {
    pub id: Id,
    pub plan_id: Id,
    /// The phase a task belongs to; `None` for a phase.
    pub parent_id: Option<Id>,
    pub kind: PlanTaskKind,
    /// WBS number: `2` for a phase, `2.3` for a task.
    pub wbs: String,
    /// Execution order (topological, WBS order between independent tasks).
    pub position: i32,
    pub title: String,
    pub description: String,
    /// PlanExe's own id, kept for traceability.
    pub planexe_id: Option<String>,
    pub duration_days: Option<DurationDays>,
    pub resources_needed: Vec<String>,
    /// For a task without subtasks (a leaf): the capability it needs.
    pub capability: Option<CapabilityChoice>,
    /// 0..1, see `docs/decomposition.md` for the formula.
    pub confidence: Option<f64>,
    pub params: Value,
    pub timeout_seconds: Option<u32>,
    pub max_attempts: Option<u32>,
    /// Tasks this one waits for, with PlanExe's explanation.
    pub depends_on: Vec<PlanDependency>,
    pub subtasks: Vec<PlanSubtask>,
    /// For a phase: its tasks.
    pub tasks: Vec<PlanTask>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanTaskKind {
    Phase,
    Task,
}

impl PlanTaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phase => "phase",
            Self::Task => "task",
        }
    }
}

/// A level-3 subtask: always a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanSubtask {
    pub id: Id,
    pub task_id: Id,
    pub wbs: String,
    pub position: i32,
    pub title: String,
    pub description: String,
    pub planexe_id: Option<String>,
    pub resources_needed: Vec<String>,
    pub capability: CapabilityChoice,
    pub confidence: f64,
    pub params: Value,
    pub timeout_seconds: Option<u32>,
    pub max_attempts: Option<u32>,
}

/// An explicit dependency: the task waits for `depends_on_id` to complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDependency {
    pub depends_on_id: Id,
    pub depends_on_wbs: String,
    pub explanation: Option<String>,
}

/// A stored plan with its whole tree (`GET /api/plans/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub id: Id,
    pub title: String,
    pub description: String,
    pub source: PlanSource,
    pub status: PlanStatus,
    /// 0..1, the mean of the leaves' confidence; below the threshold the plan needs review.
    pub confidence: f64,
    /// Why the plan needs review, one line per reason.
    pub review_reasons: Vec<String>,
    pub counts: PlanCounts,
    pub created_at: Timestamp,
    pub approved_at: Option<Timestamp>,
    /// Phases, each with its tasks and their subtasks. Empty in list views.
    #[serde(default)]
    pub phases: Vec<PlanTask>,
}

/// Sizes of a plan, as the importer counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct PlanCounts {
    pub phases: u32,
    pub tasks: u32,
    pub subtasks: u32,
    /// Dependency edges (task → task it waits for).
    pub dependencies: u32,
    /// Phases and tasks with a duration record.
    pub durations: u32,
    /// Executable units: subtasks, plus tasks without subtasks.
    pub leaves: u32,
}

/// What an import found, printed by `planexec plan import` and returned by `POST /api/plans`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImportSummary {
    /// The stored plan; absent on a dry run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    pub title: String,
    pub source: PlanSource,
    pub phases: u32,
    pub tasks: u32,
    pub subtasks: u32,
    /// Dependency edges between tasks.
    pub dependencies: u32,
    pub durations: u32,
    pub leaves: u32,
    /// 0..1; below the threshold the plan needs review.
    pub confidence: f64,
    pub needs_review: bool,
    pub status: PlanStatus,
    /// How many leaves each capability got.
    pub capabilities: BTreeMap<String, u32>,
    /// The leaves a reviewer should look at first (lowest confidence), at most 20.
    pub review: Vec<ReviewItem>,
    /// Why the plan needs review.
    pub review_reasons: Vec<String>,
    /// Things that were odd but not fatal (optional files missing, unknown ids in durations).
    pub warnings: Vec<String>,
}

/// A leaf that a reviewer should check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewItem {
    pub wbs: String,
    pub title: String,
    pub capability: String,
    pub confidence: f64,
    pub evidence: String,
}

// ---------------------------------------------------------------------------------------------
// The plan document: our own input format, so that a plan can come from anything.
// ---------------------------------------------------------------------------------------------

/// A plan written by hand or by another tool (`POST /api/plans` with `application/json`).
///
/// Dependencies refer to other tasks by `key`; keys are free strings unique in the document.
/// A leaf without `capability` gets one from the capability mapper; with one, the choice is
/// taken as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanDocument {
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    #[serde(default)]
    #[schemars(length(max = 20000))]
    pub description: String,
    #[serde(default)]
    pub source: PlanSource,
    /// At least one phase, and at least one of them with a task.
    #[schemars(
        length(min = 1),
        extend("contains" = {"type": "object", "required": ["tasks"], "properties": {"tasks": {"minItems": 1}}})
    )]
    pub phases: Vec<DocumentPhase>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentPhase {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    #[serde(default)]
    #[schemars(length(max = 20000))]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_days: Option<DurationDays>,
    pub tasks: Vec<DocumentTask>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentTask {
    /// Unique in the document; dependencies name it. PlanExe imports use PlanExe's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    #[serde(default)]
    #[schemars(length(max = 20000))]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,63}$"))]
    pub capability: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_days: Option<DurationDays>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources_needed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DocumentDependency>,
    /// 1 second to one week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 604800))]
    pub timeout_seconds: Option<u32>,
    /// 1 to 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtasks: Vec<DocumentSubtask>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentDependency {
    /// The `key` of the task (or phase) this one waits for.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20000))]
    pub explanation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentSubtask {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    #[serde(default)]
    #[schemars(length(max = 20000))]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,63}$"))]
    pub capability: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources_needed: Vec<String>,
    /// 1 second to one week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 604800))]
    pub timeout_seconds: Option<u32>,
    /// 1 to 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: Option<u32>,
}
