//! End to end: the `planexec` binary with the Larry simulator, as a user runs them.

mod archive;
mod dashboard;
mod operator_cli;
mod parallel;
mod prospecting;
mod shutdown;
mod support;
mod traces;
