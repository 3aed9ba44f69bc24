//! Decomposition: turns a PlanExe run (folder or zip) or a plan document into executable tasks.

pub mod model;
