//! Duration estimates of phases and tasks (`-task_durations.json`).
//!
//! Durations only inform the confidence and the schedule, so a record for an id that is no
//! phase or task of the plan is noted for a warning and skipped, never an error. Records are
//! counted exactly as the file declares them.

use std::collections::HashMap;

use planexec_schemas::plan::DurationDays;

use super::wbs::{Node, Tree};
use crate::error::ImportError;
use crate::json::At;

/// Duration estimates by phase or task.
#[derive(Debug, Default)]
pub(crate) struct Durations {
    /// Records in the file, whatever they name.
    pub records: u32,
    pub by_node: HashMap<Node, DurationDays>,
    /// Ids (or record positions) that name no phase or task of the plan.
    pub unknown: Vec<String>,
}

/// `[{task_id, days_min, days_max, days_realistic, ...}]`; `-1` means not given.
pub(crate) fn read_durations(root: &At<'_>, tree: &Tree) -> Result<Durations, ImportError> {
    let mut out = Durations::default();
    for record in root.items("a list of duration records")? {
        record.expect_object()?;
        out.records += 1;
        let days = DurationDays {
            min: record.get("days_min").days()?,
            realistic: record.get("days_realistic").days()?,
            max: record.get("days_max").days()?,
        };
        match record.get("task_id").text()?.filter(|id| !id.is_empty()) {
            None => out.unknown.push(format!("{} (no task_id)", record.path)),
            Some(id) => match tree.node(&id) {
                Some(node @ (Node::Phase(_) | Node::Task(..))) => {
                    out.by_node.insert(node, days);
                }
                // The project's own estimate has nowhere to go and is no mistake.
                Some(Node::Project) => {}
                Some(Node::Subtask(..)) | None => out.unknown.push(id),
            },
        }
    }
    Ok(out)
}
