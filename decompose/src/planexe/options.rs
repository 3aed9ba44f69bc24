//! How strictly a PlanExe run is read: [`ImportOptions`].

/// How an import treats what PlanExe itself writes but a plan cannot take literally.
///
/// The default is lenient: a dependency id that names no phase or task of the plan (a language
/// model copied it wrong; PlanExe's scheduler logs it and goes on) is dropped, with a warning
/// naming the file, JSON path and id, and the plan needs review; so is a dependency between a
/// node and its own phase, task or subtask (containment, not an order of work). Strict refuses
/// such a run with [`ImportError::DanglingId`] or [`ImportError::ContainmentDependency`].
/// Everything else that breaks the run's integrity (duplicate ids, an unknown subtask parent,
/// cycles, invalid JSON, ...) is an error either way.
///
/// [`ImportError::DanglingId`]: crate::ImportError::DanglingId
/// [`ImportError::ContainmentDependency`]: crate::ImportError::ContainmentDependency
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Refuse a run whose dependency file names an id that is not in the plan, or ties a node
    /// to its own ancestor or descendant.
    pub strict: bool,
}

impl ImportOptions {
    /// The default: dangling and containment dependencies are dropped, warned about and
    /// force a review.
    pub const LENIENT: Self = Self { strict: false };
    /// Dangling and containment dependencies are errors.
    pub const STRICT: Self = Self { strict: true };
}
