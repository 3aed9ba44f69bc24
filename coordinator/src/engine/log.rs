//! Lines about an execution, kept until its transaction committed (a line logged before a failed
//! commit would tell of something that never happened), then logged with the execution and the
//! task named. Which line a change gives is decided in [`effects`](super::effects).

use planexec_schemas::{Id, Timestamp};
use tracing::Level;

use crate::machine::ExecutionState;

/// The structured values a line may carry; each line sets those that concern it, and only
/// those are logged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    pub agent: Option<Id>,
    pub attempt: Option<u32>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub failures: Option<u32>,
    pub at: Option<Timestamp>,
    pub deadline: Option<Timestamp>,
    pub error: Option<String>,
}

/// A line about an execution, waiting for the commit.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    level: Level,
    message: &'static str,
    /// The task's index, logged as its WBS number.
    task: Option<usize>,
    fields: Fields,
}

impl LogLine {
    /// A line at `level`, or `None` when nothing at that level is logged (its fields are not
    /// even made then: most lines are at DEBUG, and they come by the thousand).
    pub fn new(
        level: Level,
        message: &'static str,
        task: Option<usize>,
        fields: impl FnOnce() -> Fields,
    ) -> Option<Self> {
        tracing::level_enabled!(level).then(|| Self {
            level,
            message,
            task,
            fields: fields(),
        })
    }

    /// Logs the line; `state` names the execution and the task.
    pub fn emit(&self, state: &ExecutionState) {
        let execution = state.id;
        let task = self
            .task
            .map(|i| state.nodes.get(i).map_or("?", |n| n.spec.wbs.as_str()));
        let (f, message) = (&self.fields, self.message);
        macro_rules! line {
            ($log:ident) => {
                tracing::$log!(
                    %execution,
                    task,
                    agent = f.agent.map(tracing::field::display),
                    attempt = f.attempt,
                    from = f.from.as_deref().map(tracing::field::display),
                    to = f.to.as_deref().map(tracing::field::display),
                    reason = f.reason.as_deref(),
                    detail = f.detail.as_deref(),
                    failures = f.failures,
                    at = f.at.map(tracing::field::display),
                    deadline = f.deadline.map(tracing::field::display),
                    error = f.error.as_deref(),
                    "{message}"
                )
            };
        }
        if self.level >= Level::DEBUG {
            line!(debug);
        } else if self.level == Level::INFO {
            line!(info);
        } else {
            line!(warn);
        }
    }
}
