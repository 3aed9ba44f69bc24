//! [`ParsedRun`]: a run read into a plan document, with what the import learned on the way.

use planexec_schemas::plan::PlanDocument;

use super::links::DanglingDependency;
use super::notes;
use crate::error::ContainmentDependency;

/// A run read into a plan document, with what the import learned on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRun {
    pub document: PlanDocument,
    /// The files used, as `(suffix, path in the folder or zip)`.
    pub files: Vec<(&'static str, String)>,
    /// Odd but not fatal: missing optional files, unknown ids in durations, repaired titles,
    /// phases without tasks, dependencies that were dropped (lenient imports).
    pub warnings: Vec<String>,
    /// `(dependent, depends_on)` pairs declared in the dependency file, dropped ones included.
    pub declared_dependencies: u32,
    /// Records in the durations file.
    pub duration_records: u32,
    /// The file the phases and tasks came from (level 2, or the assembled tree).
    pub wbs_file: String,
    /// The dependency file, when there was one (PlanExe analysed dependencies).
    pub dependency_file: Option<String>,
    /// Dependency ids that named no phase or task and were dropped (lenient imports only);
    /// each is also a warning, and a dropped pair makes the plan need review.
    pub dangling_dependencies: Vec<DanglingDependency>,
    /// Dependencies between a node and its own ancestor or descendant, dropped as containment
    /// (lenient imports only); each is also a warning, and they make the plan need review.
    pub containment_dependencies: Vec<ContainmentDependency>,
}

impl ParsedRun {
    /// Why the run needs a person whatever its confidence: dependencies that were dropped as
    /// dangling, and dependencies that were reinterpreted as containment.
    pub fn review_reasons(&self) -> Vec<String> {
        notes::dropped_dependencies_reason(&self.dangling_dependencies)
            .into_iter()
            .chain(notes::containment_reason(&self.containment_dependencies))
            .collect()
    }
}
