//! Why an import failed, precisely enough to fix the input without reading our code.
//!
//! Every variant names the file (or plan document), the field or JSON path and the id at fault,
//! and its message ends with what to do. An import either succeeds whole or returns one of
//! these: nothing is ever half-imported.

use std::fmt;
use std::path::PathBuf;

use planexec_schemas::validate::FieldError;

/// A plan could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The path could not be read at all.
    #[error("cannot read {path}: {source}; check that the path exists and is readable")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The path is a file that is not a zip archive.
    #[error(
        "{path} is neither a folder nor a zip archive; pass a PlanExe run folder or the zip PlanExe exports"
    )]
    NotARun { path: PathBuf },

    /// The zip is truncated, damaged or uses a feature we do not read.
    #[error(
        "{name} is not a readable zip archive ({reason}); the file is probably truncated or damaged: export or download it again"
    )]
    CorruptZip { name: String, reason: String },

    /// A member or the input is larger than any PlanExe run file (guards against zip bombs).
    #[error(
        "{name}: {member} is larger than {limit} bytes, far more than any PlanExe run file; check that this is a PlanExe run"
    )]
    TooLarge {
        name: String,
        member: String,
        limit: u64,
    },

    /// None of the files that carry the work breakdown structure were found.
    #[error(
        "no PlanExe WBS files in {location}: looked for files ending in {} and found {}; pass the folder of one PlanExe run (or its zip)",
        quoted(looked_for),
        sample(found)
    )]
    NoWbsFiles {
        location: String,
        /// The suffixes searched for, e.g. `-wbs_level2.json`.
        looked_for: Vec<String>,
        /// What the folder or zip holds instead (file names, after ignoring macOS clutter).
        found: Vec<String>,
    },

    /// Level 1 (the project) is there but level 2 (phases and tasks) is not.
    #[error(
        "{location}: found {level1} but no file ending in -wbs_level2.json, which holds the phases and tasks; the run is incomplete: export the whole run folder again, or rerun PlanExe until it writes level 2"
    )]
    MissingLevel2 { location: String, level1: String },

    /// A file is not valid JSON.
    #[error(
        "{file}: invalid JSON at line {line}, column {column}: {message}; the file is damaged: export the run again"
    )]
    InvalidJson {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },

    /// Valid JSON, but a value does not have the shape PlanExe writes.
    #[error(
        "{file}: {path} should be {expected} but is {found}; this is not the layout PlanExe writes: check that the file comes from PlanExe and was not edited"
    )]
    WrongShape {
        file: String,
        /// JSON path of the value, e.g. `$[2].subtasks[0].id`.
        path: String,
        expected: String,
        found: String,
    },

    /// A reference names an id that the plan does not contain. For a dependency of a PlanExe
    /// run, only with `ImportOptions::STRICT`; a lenient import drops it and asks for review.
    #[error("{file}: {field} names {id:?}, which is not {expected}; fix or remove the reference")]
    DanglingId {
        file: String,
        /// JSON path (PlanExe files) or field path (plan documents) of the reference.
        field: String,
        id: String,
        /// What the id should have named, e.g. `a phase or task of this plan`.
        expected: String,
    },

    /// Two nodes share one id, so references to it would be ambiguous.
    #[error(
        "{file}: id {id:?} at {field} is already used at {first}; every phase, task and subtask needs its own id"
    )]
    DuplicateId {
        file: String,
        field: String,
        id: String,
        /// Where the id was seen first (file and JSON path).
        first: String,
    },

    /// Dependencies that loop, so none of the tasks in the loop could ever start.
    #[error(
        "{file}: dependency cycle {}; tasks in a cycle can never start: remove one of these dependencies",
        Chain(cycle)
    )]
    Cycle {
        file: String,
        /// The tasks of the cycle in "waits for" order; the first is repeated at the end.
        cycle: Vec<CycleStep>,
    },

    /// A dependency between a node and one of its own ancestors or descendants (a task on its
    /// own phase, a phase on one of its tasks, a subtask on its task): containment written as
    /// a dependency, no order of work. Strict imports and plan documents refuse it; a lenient
    /// import drops it and asks for review.
    #[error(
        "{}; that is containment, not an order of work: remove the dependency (an import that is not strict drops it and asks for review)",
        .0.what()
    )]
    ContainmentDependency(Box<ContainmentDependency>),

    /// The plan has phases but no task to execute.
    #[error(
        "{location}: the plan has no tasks (no phase lists any); there is nothing to execute: check that the run finished its work breakdown"
    )]
    NoTasks { location: String },

    /// A plan document breaks a field rule (see `planexec_schemas::validate`).
    #[error(
        "plan document {reference} is invalid: {}; fix these fields and import it again",
        Fields(errors)
    )]
    InvalidDocument {
        reference: String,
        errors: Vec<FieldError>,
    },
}

/// One node of the plan as errors name it: a step of a dependency cycle, or an end of a
/// containment dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleStep {
    /// WBS number, `1.2` for a task, `1` for a phase.
    pub wbs: String,
    /// The task's key (PlanExe id for imports), when it has one.
    pub key: Option<String>,
}

impl fmt::Display for CycleStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{} ({key})", self.wbs),
            None => f.write_str(&self.wbs),
        }
    }
}

impl ImportError {
    /// A stable, machine-readable name of the error, e.g. for a problem+json `type`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::NotARun { .. } => "not-a-run",
            Self::CorruptZip { .. } => "corrupt-zip",
            Self::TooLarge { .. } => "too-large",
            Self::NoWbsFiles { .. } => "no-wbs-files",
            Self::MissingLevel2 { .. } => "missing-level2",
            Self::InvalidJson { .. } => "invalid-json",
            Self::WrongShape { .. } => "wrong-shape",
            Self::DanglingId { .. } => "dangling-id",
            Self::DuplicateId { .. } => "duplicate-id",
            Self::Cycle { .. } => "dependency-cycle",
            Self::ContainmentDependency { .. } => "containment-dependency",
            Self::NoTasks { .. } => "no-tasks",
            Self::InvalidDocument { .. } => "invalid-document",
        }
    }

    /// The cycle as WBS numbers only, e.g. `1.2 → 2.1 → 1.2`.
    pub fn cycle_wbs(&self) -> Option<String> {
        match self {
            Self::Cycle { cycle, .. } => Some(
                cycle
                    .iter()
                    .map(|s| s.wbs.as_str())
                    .collect::<Vec<_>>()
                    .join(" → "),
            ),
            _ => None,
        }
    }
}

struct Chain<'a>(&'a [CycleStep]);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" → ")?;
            }
            write!(f, "{step}")?;
        }
        Ok(())
    }
}

/// A declared dependency between a node and one of its own ancestors or descendants: an error
/// of a strict import ([`ImportError::ContainmentDependency`]), dropped by a lenient one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainmentDependency {
    /// The dependency file (or plan document), as messages name it.
    pub file: String,
    /// JSON path (PlanExe files, `$.task_dependency_details[3].depends_on_task_id_list[1]`)
    /// or field path (plan documents) of the depends-on id.
    pub field: String,
    /// The dependent's WBS number (`4.1`) and id.
    pub dependent: CycleStep,
    /// What it was said to depend on (`4`, its own phase), with its id.
    pub depends_on: CycleStep,
    /// The planner's explanation, e.g. "4.1 is a subtask of 4 and therefore dependent on it".
    pub explanation: Option<String>,
}

impl ContainmentDependency {
    /// Where it is and what it says, e.g. `…json: $…[0]: 4.1 (id) depends on 4 (id), its own
    /// phase ("…")`: the start of both the error and the warning of a lenient import.
    pub fn what(&self) -> String {
        format!(
            "{}: {}: {} depends on {}, {}{}",
            self.file,
            self.field,
            self.dependent,
            self.depends_on,
            containment(&self.dependent, &self.depends_on),
            Explained(&self.explanation)
        )
    }
}

/// How the depends-on end relates to the dependent, from their WBS numbers (`4` holds `4.1`,
/// which holds `4.1.2`): "its own phase", "one of its own subtasks", ...
fn containment(dependent: &CycleStep, depends_on: &CycleStep) -> &'static str {
    let depth = |s: &CycleStep| s.wbs.split('.').count();
    match (depth(dependent), depth(depends_on)) {
        (_, 1) => "its own phase",
        (3, 2) => "its own task",
        (_, 2) => "one of its own tasks",
        _ => "one of its own subtasks",
    }
}

/// ` ("why")` after a dependency, when the planner said why.
struct Explained<'a>(&'a Option<String>);

impl fmt::Display for Explained<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(why) => write!(f, " ({why:?})"),
            None => Ok(()),
        }
    }
}

struct Fields<'a>(&'a [FieldError]);

impl fmt::Display for Fields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let field = if e.field.is_empty() {
                "(document)"
            } else {
                &e.field
            };
            write!(f, "{field}: {}", e.message)?;
        }
        Ok(())
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A few names are enough to see what was passed instead of a run.
fn sample(items: &[String]) -> String {
    const SHOWN: usize = 8;
    match items.len() {
        0 => "no files at all".to_owned(),
        n if n <= SHOWN => quoted(items),
        n => format!("{} and {} more", quoted(&items[..SHOWN]), n - SHOWN),
    }
}
