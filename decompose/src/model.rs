//! The output of decomposition: a plan ready to be stored and executed.
//!
//! The types are defined in `planexec_schemas::decomposition`, where the store takes them
//! without linking the importer; they are named here as the importer always named them.

pub use planexec_schemas::decomposition::{
    Decomposition, Dependency, Leaf, Phase, REVIEW_THRESHOLD, Subtask, Task,
};
