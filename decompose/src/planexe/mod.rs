//! Reading a PlanExe run (folder or zip) into a [`PlanDocument`].
//!
//! Which files are used, in order of preference, and what their absence means:
//! level 1 + level 2 (required together; the assembled `-wbs_project_*` trees only stand in
//! when both are absent), level 3 (else tasks are the leaves), dependencies (else WBS order),
//! durations, and context (`-plan.txt` for the goal, `-pipeline_complete.txt` to know that
//! PlanExe finished). Missing optional files become warnings, never errors.
//!
//! A dependency id that names no phase or task, and a dependency between a node and its own
//! phase, task or subtask (containment), are errors only with [`ImportOptions::strict`]; by
//! default the dependency is dropped, with a warning each and a review reason that keeps the
//! plan from starting unattended (see `links`).
//!
//! Modules: `options` and `suffix` are the vocabulary; `reader` finds and reads the files
//! into a [`ParsedRun`] (`parsed`), with `wbs` (the tree), `links` (dependencies),
//! `durations`, `build` (the document) and `notes` (what the warnings and reasons say).
//!
//! [`PlanDocument`]: planexec_schemas::plan::PlanDocument

mod build;
mod durations;
mod links;
mod notes;
mod options;
mod parsed;
mod reader;
pub mod suffix;
mod wbs;

pub use links::DanglingDependency;
pub use options::ImportOptions;
pub use parsed::ParsedRun;
pub(crate) use reader::read;
