//! The valid transitions of executions and of leaf tasks, and their validation.

use planexec_schemas::execution::{ExecutionStatus, TaskStatus};

/// Where an execution may go from `from`.
pub fn allowed_transitions(from: ExecutionStatus) -> &'static [ExecutionStatus] {
    use ExecutionStatus::*;
    match from {
        Created => &[Queued, NeedsReview, Cancelled, Failed],
        NeedsReview => &[Queued, Cancelled],
        Queued => &[Running, Paused, Blocked, Cancelled],
        Running => &[Paused, Blocked, Completed, Failed, Cancelled],
        Paused => &[Running, Cancelled],
        Blocked => &[Running, Paused, Cancelled, Failed],
        Completed | Failed | Cancelled => &[],
    }
}

/// Where a leaf task may go from `from`. Tasks with subtasks mirror their children instead.
pub fn allowed_task_transitions(from: TaskStatus) -> &'static [TaskStatus] {
    use TaskStatus::*;
    match from {
        // An operator may skip or complete any leaf that is not done.
        Pending => &[Ready, Cancelled, Skipped, Completed],
        Ready => &[Dispatched, Cancelled, Skipped, Completed],
        // A task may complete before its start event arrives (events can be reordered), and
        // goes back to Ready when released or reassigned before it finishes.
        Dispatched => &[
            Running, Completed, RetryWait, Failed, Cancelled, Ready, Skipped,
        ],
        Running => &[Completed, RetryWait, Failed, Cancelled, Ready, Skipped],
        RetryWait => &[Ready, Cancelled, Skipped, Completed],
        Failed => &[Ready, Skipped, Completed],
        Completed | Cancelled | Skipped => &[],
    }
}

/// An execution was asked to move where it may not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an execution cannot go from {from} to {to}; from {from} it may go to [{}]", list(self.allowed))]
pub struct InvalidTransition {
    pub from: ExecutionStatus,
    pub to: ExecutionStatus,
    pub allowed: &'static [ExecutionStatus],
}

/// A leaf task was asked to move where it may not (a bug in the machine if it ever happens).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a task cannot go from {from} to {to}")]
pub struct InvalidTaskTransition {
    pub from: TaskStatus,
    pub to: TaskStatus,
}

fn list(states: &[ExecutionStatus]) -> String {
    states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Ok` when an execution may go from `from` to `to`.
pub fn validate_transition(
    from: ExecutionStatus,
    to: ExecutionStatus,
) -> Result<(), InvalidTransition> {
    let allowed = allowed_transitions(from);
    if allowed.contains(&to) {
        Ok(())
    } else {
        Err(InvalidTransition { from, to, allowed })
    }
}

/// `Ok` when a leaf may go from `from` to `to`.
pub fn validate_task_transition(
    from: TaskStatus,
    to: TaskStatus,
) -> Result<(), InvalidTaskTransition> {
    if allowed_task_transitions(from).contains(&to) {
        Ok(())
    } else {
        Err(InvalidTaskTransition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExecutionStatus::*;

    #[test]
    fn the_checklist_transitions_are_valid() {
        for (from, to) in [
            (Created, Queued),
            (Queued, Running),
            (Running, Blocked),
            (Blocked, Running),
            (Running, Completed),
            (Running, Paused),
            (Paused, Running),
            (Running, Cancelled),
            (Paused, Cancelled),
            (Blocked, Cancelled),
            (Queued, Cancelled),
            (Created, NeedsReview),
            (NeedsReview, Queued),
        ] {
            assert_eq!(validate_transition(from, to), Ok(()), "{from} → {to}");
        }
    }

    #[test]
    fn terminal_states_have_no_exit() {
        for from in [Completed, Failed, Cancelled] {
            assert!(from.is_terminal());
            for to in ExecutionStatus::ALL {
                let err = validate_transition(from, to).expect_err("a terminal state was left");
                assert_eq!(err.allowed, &[] as &[ExecutionStatus]);
            }
        }
    }

    #[test]
    fn completed_to_running_is_rejected_with_a_clear_message() {
        let err =
            validate_transition(Completed, Running).expect_err("COMPLETED → RUNNING accepted");
        assert_eq!(
            err.to_string(),
            "an execution cannot go from COMPLETED to RUNNING; from COMPLETED it may go to []"
        );
        let err = validate_transition(Paused, Blocked).expect_err("PAUSED → BLOCKED accepted");
        assert_eq!(
            err.to_string(),
            "an execution cannot go from PAUSED to BLOCKED; from PAUSED it may go to [RUNNING, CANCELLED]"
        );
    }

    #[test]
    fn only_listed_transitions_are_valid() {
        for from in ExecutionStatus::ALL {
            for to in ExecutionStatus::ALL {
                let listed = allowed_transitions(from).contains(&to);
                assert_eq!(
                    validate_transition(from, to).is_ok(),
                    listed,
                    "{from} → {to}"
                );
            }
        }
        for from in TaskStatus::ALL {
            for to in TaskStatus::ALL {
                let listed = allowed_task_transitions(from).contains(&to);
                assert_eq!(
                    validate_task_transition(from, to).is_ok(),
                    listed,
                    "{from} → {to}"
                );
            }
        }
    }

    #[test]
    fn finished_tasks_stay_finished() {
        for from in [
            TaskStatus::Completed,
            TaskStatus::Cancelled,
            TaskStatus::Skipped,
        ] {
            assert!(
                allowed_task_transitions(from).is_empty(),
                "{from} can be left"
            );
        }
    }
}
