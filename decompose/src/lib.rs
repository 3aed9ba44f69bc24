//! Decomposition: turns a PlanExe run (folder or zip) or a plan document into executable tasks.
//!
//! - [`parse_tasks_from_plan`] reads a PlanExe run into a [`PlanDocument`]: phases and tasks
//!   (level 2) with their subtasks (level 3), dependencies, durations, PlanExe ids.
//! - [`decompose_document`] numbers it the WBS way, orders it topologically, maps every leaf to a
//!   capability ([`map_capability`]) and scores it ([`compute_confidence`]).
//! - [`decompose_plan`] does both for a path; [`decompose_zip`] for zip bytes (an upload).
//!
//! Nothing here does I/O beyond reading the input, so `planexec plan import --dry-run` needs no
//! server. Every failure is an [`ImportError`] that names the file, field and id at fault.
//!
//! Imports are lenient by default, like PlanExe itself: a dependency id that names no task of
//! the plan is dropped with a warning and the plan needs review, and so is a dependency that
//! ties a task to its own phase or subtask (containment, not an order of work).
//! [`ImportOptions::STRICT`] (through the `*_with` functions) refuses such a run with
//! [`ImportError::DanglingId`] or [`ImportError::ContainmentDependency`].
//!
//! Modules, in the order data flows through them:
//! - `run`: the files of a run, found by suffix in a folder or zip.
//! - `json`: JSON values with their path, for precise shape errors.
//! - `planexe`: PlanExe's files → [`PlanDocument`] (`reader`, `wbs`, `links`, `durations`,
//!   `build`, `notes`).
//! - `document`: [`PlanDocument`] → [`Decomposition`]; `resolve` turns dependency keys into
//!   edges, `order` sorts tasks topologically, `nodes` numbers the tree and makes the leaves.
//! - `capability` with its `rules`, `confidence`, `review`: what each leaf needs, how sure we
//!   are, and whether the plan may start unattended.
//! - `error`: [`ImportError`].

mod capability;
mod confidence;
mod document;
mod error;
mod json;
pub mod model;
mod nodes;
mod order;
mod planexe;
mod resolve;
mod review;
mod rules;
mod run;

use std::borrow::Cow;
use std::path::Path;

pub use capability::map_capability;
pub use confidence::{ConfidenceInputs, compute_confidence};
pub use error::{ContainmentDependency, CycleStep, ImportError};
pub use model::{Decomposition, Dependency, Leaf, Phase, REVIEW_THRESHOLD, Subtask, Task};
pub use planexe::{DanglingDependency, ImportOptions, ParsedRun, suffix};
pub use planexec_schemas::plan::PlanDocument;

use document::Context;
use run::Run;

/// Reads a PlanExe run folder (or a folder holding one) or its zip into a plan document
/// (lenient: see [`ImportOptions`]).
pub fn parse_tasks_from_plan(path: &Path) -> Result<PlanDocument, ImportError> {
    Ok(read_run(path)?.document)
}

/// Reads an uploaded PlanExe zip; `name` is the upload's file name, kept as the reference.
pub fn parse_tasks_from_zip(name: &str, bytes: &[u8]) -> Result<PlanDocument, ImportError> {
    Ok(read_run_zip(name, bytes)?.document)
}

/// Like [`parse_tasks_from_plan`], with the files used, the warnings and the declared counts.
pub fn read_run(path: &Path) -> Result<ParsedRun, ImportError> {
    read_run_with(path, &ImportOptions::default())
}

/// Like [`read_run`], with explicit [`ImportOptions`].
pub fn read_run_with(path: &Path, options: &ImportOptions) -> Result<ParsedRun, ImportError> {
    planexe::read(&mut Run::open(path)?, *options)
}

/// Like [`parse_tasks_from_zip`], with the files used, the warnings and the declared counts.
pub fn read_run_zip(name: &str, bytes: &[u8]) -> Result<ParsedRun, ImportError> {
    read_run_zip_with(name, bytes, &ImportOptions::default())
}

/// Like [`read_run_zip`], with explicit [`ImportOptions`].
pub fn read_run_zip_with(
    name: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<ParsedRun, ImportError> {
    planexe::read(
        &mut Run::zip(name.to_owned(), name.to_owned(), Cow::Borrowed(bytes))?,
        *options,
    )
}

/// Reads a PlanExe run (folder or zip) and decomposes it (lenient: see [`ImportOptions`]).
pub fn decompose_plan(path: &Path) -> Result<Decomposition, ImportError> {
    decompose_plan_with(path, &ImportOptions::default())
}

/// Like [`decompose_plan`], with explicit [`ImportOptions`].
pub fn decompose_plan_with(
    path: &Path,
    options: &ImportOptions,
) -> Result<Decomposition, ImportError> {
    decompose_run(read_run_with(path, options)?)
}

/// Reads an uploaded PlanExe zip and decomposes it (lenient: see [`ImportOptions`]).
pub fn decompose_zip(name: &str, bytes: &[u8]) -> Result<Decomposition, ImportError> {
    decompose_zip_with(name, bytes, &ImportOptions::default())
}

/// Like [`decompose_zip`], with explicit [`ImportOptions`].
pub fn decompose_zip_with(
    name: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<Decomposition, ImportError> {
    decompose_run(read_run_zip_with(name, bytes, options)?)
}

/// Decomposes a run already read; counts are those declared in its files. Dependencies the
/// reading dropped ([`ParsedRun::dangling_dependencies`], [`ParsedRun::containment_dependencies`])
/// make the plan need review; containment also lowers the confidence of the leaves involved.
pub fn decompose_run(run: ParsedRun) -> Result<Decomposition, ImportError> {
    let review_reasons = run.review_reasons();
    let reinterpreted = run
        .containment_dependencies
        .iter()
        .map(|c| c.dependent.wbs.clone())
        .collect();
    let context = Context {
        file: run.wbs_file,
        dependencies_analysed: run.dependency_file.is_some(),
        dependency_file: run.dependency_file,
        declared_dependencies: Some(run.declared_dependencies),
        duration_records: Some(run.duration_records),
        warnings: run.warnings,
        review_reasons,
        reinterpreted,
    };
    document::decompose(run.document, context)
}

/// Decomposes a plan document (ours, or one read from PlanExe): validates it, numbers it,
/// resolves dependencies, orders tasks and maps every leaf to a capability.
pub fn decompose_document(doc: PlanDocument) -> Result<Decomposition, ImportError> {
    let context = Context::for_document(&doc);
    document::decompose(doc, context)
}
