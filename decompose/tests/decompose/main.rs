//! The specification of planexec-decompose, as tests: real PlanExe runs, damaged runs, the
//! prospecting fixture, what PlanExe tolerates (lenient imports), containment written as a
//! dependency, plan documents, capability mapping and the ordering property.

mod capability;
mod containment;
mod corrupted;
mod documents;
mod fixture;
mod lenient;
mod ordering;
mod shared_runs;
mod support;
