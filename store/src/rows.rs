//! Turning stored text back into the wire enums, loudly when they disagree.

use planexec_schemas::execution::{BlockedReason, ExecutionStatus, RoutingPolicy, TaskStatus};

use crate::Error;

pub fn execution_status(s: &str) -> Result<ExecutionStatus, Error> {
    ExecutionStatus::parse(s).ok_or_else(|| Error::corrupt("executions", format!("status {s:?}")))
}

pub fn task_status(table: &'static str, s: &str) -> Result<TaskStatus, Error> {
    TaskStatus::parse(s).ok_or_else(|| Error::corrupt(table, format!("status {s:?}")))
}

pub fn blocked_reason(s: Option<&str>) -> Result<Option<BlockedReason>, Error> {
    s.map(|s| {
        BlockedReason::parse(s)
            .ok_or_else(|| Error::corrupt("executions", format!("blocked_reason {s:?}")))
    })
    .transpose()
}

pub fn routing(s: &str) -> Result<RoutingPolicy, Error> {
    RoutingPolicy::parse(s).ok_or_else(|| Error::corrupt("executions", format!("routing {s:?}")))
}

/// Counts and attempts are non-negative `integer` columns; clamp rather than wrap.
pub fn u32_of(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

pub fn i32_of(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
