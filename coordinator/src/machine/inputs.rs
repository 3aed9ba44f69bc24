//! What each [`Input`](super::Input) does to an execution, before it settles: starting and
//! approval, operators' commands (pause, resume, cancel, reassign, resolve), agents' events, and
//! time passing (due deadlines, unconfirmed dispatches).

use chrono::Duration;
use planexec_schemas::event::{AgentEvent, AgentEventBody};
use planexec_schemas::execution::{ExecutionStatus, TaskStatus};
use planexec_schemas::{Id, Timestamp};

use super::mutator::Mutator;
use super::retry::{AfterFailure, timeout_error};
use super::transitions::validate_transition;
use super::vocabulary::{Change, Rejection, Resolution};

impl Mutator<'_, '_, '_> {
    pub(super) fn start(&mut self, needs_review: bool) {
        if self.state.status != ExecutionStatus::Created {
            return; // already started: starting again is a no-op
        }
        if needs_review {
            self.set_status(
                ExecutionStatus::NeedsReview,
                Some("plan confidence is below the review threshold".into()),
            );
        } else {
            self.set_status(ExecutionStatus::Queued, Some("tasks materialised".into()));
        }
    }

    pub(super) fn approve(&mut self) {
        if self.state.status == ExecutionStatus::NeedsReview {
            self.set_status(ExecutionStatus::Queued, Some("plan approved".into()));
        }
    }

    pub(super) fn pause(&mut self) -> Result<(), Rejection> {
        validate_transition(self.state.status, ExecutionStatus::Paused)?;
        self.set_status(
            ExecutionStatus::Paused,
            Some("paused by an operator".into()),
        );
        Ok(())
    }

    pub(super) fn resume(&mut self) -> Result<(), Rejection> {
        validate_transition(self.state.status, ExecutionStatus::Running)?;
        if self.state.status == ExecutionStatus::Blocked {
            // Resuming a block caused by failures is the operator's "try again".
            let failed: Vec<usize> = self
                .state
                .leaves()
                .filter(|(_, n)| n.status == TaskStatus::Failed)
                .map(|(i, _)| i)
                .collect();
            for index in failed {
                self.state.nodes[index].failures = 0;
                self.set_task(index, TaskStatus::Ready);
            }
        }
        self.set_status(
            ExecutionStatus::Running,
            Some("resumed by an operator".into()),
        );
        Ok(())
    }

    pub(super) fn cancel(&mut self, reason: &str) -> Result<(), Rejection> {
        validate_transition(self.state.status, ExecutionStatus::Cancelled)?;
        let open: Vec<usize> = self
            .state
            .leaves()
            .filter(|(_, n)| {
                matches!(
                    n.status,
                    TaskStatus::Pending | TaskStatus::Ready | TaskStatus::RetryWait
                ) || n.status.is_in_flight()
            })
            .map(|(i, _)| i)
            .collect();
        for index in open {
            self.revoke_if_in_flight(index, reason);
            self.set_task(index, TaskStatus::Cancelled);
        }
        self.set_status(ExecutionStatus::Cancelled, Some(reason.to_owned()));
        Ok(())
    }

    /// An agent's event about the attempt it holds.
    pub(super) fn agent_event(&mut self, sender: Id, event: &AgentEvent) -> Result<(), Rejection> {
        let index = self.fenced(sender, event)?;
        let status = self.state.nodes[index].status;
        let in_flight = status.is_in_flight();
        let ends_attempt = event.body.event_type().ends_attempt();
        let not_in_flight = Rejection::TaskNotInFlight { status };
        if ends_attempt && !in_flight {
            return Err(not_in_flight);
        }
        match &event.body {
            AgentEventBody::Log { .. } => {}
            AgentEventBody::TaskStarted {} => {
                match status {
                    TaskStatus::Dispatched => {}
                    TaskStatus::Running => return Err(Rejection::AlreadyStarted),
                    _ => return Err(not_in_flight),
                }
                self.mark_started(index);
            }
            AgentEventBody::TaskProgress { progress, .. } => {
                if !in_flight {
                    return Err(not_in_flight);
                }
                self.mark_started(index);
                let node = &mut self.state.nodes[index];
                node.progress = node.progress.max(progress.clamp(0.0, 100.0));
            }
            AgentEventBody::TaskComplete { output } => {
                let node = &mut self.state.nodes[index];
                node.progress = 100.0;
                node.started_at.get_or_insert(self.ctx.now);
                self.set_task(index, TaskStatus::Completed);
                self.changes.push(Change::Completed {
                    index,
                    output: output.clone(),
                });
            }
            AgentEventBody::TaskFailed {
                error,
                retryable,
                retry_after_seconds,
            } => {
                let wish = retry_after_seconds.map(|s| Duration::milliseconds((s * 1000.0) as i64));
                self.fail_attempt(index, error, *retryable, wish);
            }
            AgentEventBody::TaskReleased { .. } => {
                self.state.nodes[index].assigned_agent = None;
                self.set_task(index, TaskStatus::Ready);
            }
        }
        // What the schemas say of the event type is what happened (the property tests run this).
        debug_assert_eq!(
            self.state.nodes[index].status.is_in_flight(),
            in_flight && !ends_attempt,
            "machine bug: {:?} and EventType::ends_attempt disagree",
            event.body.event_type()
        );
        Ok(())
    }

    /// The leaf `event` is about, if `sender` holds its current attempt (the fencing token).
    fn fenced(&self, sender: Id, event: &AgentEvent) -> Result<usize, Rejection> {
        if event.execution_id != self.state.id {
            return Err(Rejection::UnknownTask(event.task_id));
        }
        let index = self.leaf(event.task_id)?;
        if self.state.status.is_terminal() {
            return Err(Rejection::ExecutionFinished(self.state.status));
        }
        let node = &self.state.nodes[index];
        if node.assigned_agent != Some(sender) {
            return Err(Rejection::WrongAgent {
                sender,
                assignee: node.assigned_agent,
            });
        }
        if event.attempt < node.attempt {
            return Err(Rejection::StaleAttempt {
                current: node.attempt,
                got: event.attempt,
            });
        }
        if event.attempt > node.attempt {
            return Err(Rejection::UnknownAttempt {
                current: node.attempt,
                got: event.attempt,
            });
        }
        Ok(index)
    }

    fn mark_started(&mut self, index: usize) {
        if self.state.nodes[index].status != TaskStatus::Dispatched {
            return;
        }
        let now = self.ctx.now;
        let node = &mut self.state.nodes[index];
        node.started_at = Some(now);
        node.lease_deadline = Some(now + Duration::seconds(i64::from(node.spec.timeout_seconds)));
        self.set_task(index, TaskStatus::Running);
    }

    /// Time passed: fire the deadlines due at `Context::now` and publish again the dispatches
    /// JetStream has not confirmed within the grace.
    pub(super) fn tick(&mut self) {
        let now = self.ctx.now;
        let due: Vec<(usize, TaskStatus, Option<Timestamp>)> = self
            .state
            .leaves()
            .map(|(i, n)| {
                (
                    i,
                    n.status,
                    if n.status == TaskStatus::RetryWait {
                        n.next_attempt_at
                    } else {
                        n.lease_deadline
                    },
                )
            })
            .collect();
        for (index, status, deadline) in due {
            match (status, deadline) {
                (TaskStatus::Dispatched | TaskStatus::Running, Some(deadline))
                    if deadline <= now =>
                {
                    self.time_out(index, status, deadline)
                }
                (TaskStatus::RetryWait, Some(at)) if at <= now => {
                    self.set_task(index, TaskStatus::Ready)
                }
                _ => {}
            }
        }
        let unconfirmed: Vec<(usize, Id, u32)> = self
            .state
            .leaves()
            .filter(|(_, n)| n.status == TaskStatus::Dispatched && !n.published)
            .filter(|(_, n)| {
                n.dispatched_at
                    .is_some_and(|at| at + self.ctx.publish_grace <= now)
            })
            .filter_map(|(i, n)| n.assigned_agent.map(|a| (i, a, n.attempt)))
            .collect();
        for (index, agent, attempt) in unconfirmed {
            self.changes.push(Change::Republish {
                index,
                agent,
                attempt,
            });
        }
    }

    pub(super) fn reassign(&mut self, task: Option<Id>, to: Id) -> Result<(), Rejection> {
        if self.state.status.is_terminal() {
            return Err(Rejection::ExecutionFinished(self.state.status));
        }
        if self.ctx.agents.get(to).is_none() {
            return Err(Rejection::NotApplicable(format!(
                "agent {to} is not registered"
            )));
        }
        let targets: Vec<usize> = match task {
            Some(id) => {
                let index = self.leaf(id)?;
                let status = self.state.nodes[index].status;
                if status.is_terminal() {
                    return Err(Rejection::TaskNotInFlight { status });
                }
                vec![index]
            }
            None => {
                self.state.agent_id = to;
                self.state
                    .leaves()
                    .filter(|(_, n)| n.status.is_in_flight() || n.status == TaskStatus::Ready)
                    .map(|(i, _)| i)
                    .collect()
            }
        };
        for index in targets {
            let node = &self.state.nodes[index];
            let (from, attempt) = (node.assigned_agent, node.attempt);
            if from == Some(to) && node.status.is_in_flight() {
                continue;
            }
            self.revoke_if_in_flight(index, "reassigned to another agent");
            if self.state.nodes[index].status.is_in_flight() {
                self.set_task(index, TaskStatus::Ready);
            }
            self.state.nodes[index].assigned_agent = Some(to);
            self.changes.push(Change::Reassigned {
                index,
                attempt,
                from,
                to,
            });
        }
        Ok(())
    }

    pub(super) fn resolve(&mut self, task: Id, action: &Resolution) -> Result<(), Rejection> {
        if self.state.status.is_terminal() {
            return Err(Rejection::ExecutionFinished(self.state.status));
        }
        let index = self.leaf(task)?;
        let status = self.state.nodes[index].status;
        let not_done = || match status.is_terminal() {
            true => Err(Rejection::NotApplicable(format!(
                "the task is already {status}"
            ))),
            false => Ok(()),
        };
        match action {
            Resolution::Retry => {
                if status != TaskStatus::Failed {
                    return Err(Rejection::NotApplicable(format!(
                        "only a failed task can be retried; this one is {status}"
                    )));
                }
                self.state.nodes[index].failures = 0;
                self.set_task(index, TaskStatus::Ready);
            }
            Resolution::Skip => {
                not_done()?;
                self.revoke_if_in_flight(index, "skipped by an operator");
                self.set_task(index, TaskStatus::Skipped);
                self.changes.push(Change::Skipped { index });
            }
            Resolution::Complete { output } => {
                not_done()?;
                self.revoke_if_in_flight(index, "completed by an operator");
                let node = &mut self.state.nodes[index];
                node.progress = 100.0;
                node.started_at.get_or_insert(self.ctx.now);
                self.set_task(index, TaskStatus::Completed);
                self.changes.push(Change::MarkedComplete {
                    index,
                    output: output.clone(),
                });
            }
        }
        Ok(())
    }

    /// The lease of the attempt in flight at `index` ran out at `deadline`: its holder is told to
    /// stop, and the attempt counts as a failure that may be retried.
    fn time_out(&mut self, index: usize, status: TaskStatus, deadline: Timestamp) {
        let attempt = self.state.nodes[index].attempt;
        self.changes.push(Change::TimedOut {
            index,
            attempt,
            deadline,
        });
        self.revoke_if_in_flight(index, "timed out");
        self.fail_attempt(index, &timeout_error(attempt, status), true, None);
    }

    /// An attempt failed (or timed out): it waits for a retry, or fails for good (see
    /// [`RetryPolicy::after_failure`](super::RetryPolicy)).
    fn fail_attempt(&mut self, index: usize, error: &str, retryable: bool, wish: Option<Duration>) {
        let node = &mut self.state.nodes[index];
        node.failures += 1;
        let (attempt, failures) = (node.attempt, node.failures);
        let policy = self.ctx.retry.with_attempts(node.spec.max_attempts);
        self.changes.push(Change::Failed {
            index,
            error: error.to_owned(),
        });
        let error = error.to_owned();
        match policy.after_failure(failures, retryable, wish, self.ctx.now) {
            AfterFailure::RetryAt(at) => {
                self.set_task(index, TaskStatus::RetryWait);
                self.state.nodes[index].next_attempt_at = Some(at);
                self.changes.push(Change::RetryScheduled {
                    index,
                    attempt,
                    failures,
                    at,
                    error,
                });
            }
            AfterFailure::GiveUp => {
                self.set_task(index, TaskStatus::Failed);
                self.changes.push(Change::GaveUp {
                    index,
                    attempt,
                    failures,
                    error,
                });
            }
        }
    }

    /// `agent` holds nothing since `since`: its running attempts that started before then are
    /// gone with the process that ran them, so they are handed out again (no failure counted).
    /// Attempts dispatched but not started may still be on their way to it, and stay.
    pub(super) fn holder_empty(&mut self, agent: Id, since: Timestamp) {
        let lost: Vec<usize> = self
            .state
            .leaves()
            .filter(|(_, n)| {
                n.assigned_agent == Some(agent)
                    && n.status == TaskStatus::Running
                    && n.started_at.is_some_and(|at| at < since)
            })
            .map(|(i, _)| i)
            .collect();
        for index in lost {
            let attempt = self.state.nodes[index].attempt;
            self.state.nodes[index].assigned_agent = None;
            self.set_task(index, TaskStatus::Ready);
            self.changes.push(Change::Abandoned {
                index,
                agent,
                attempt,
            });
        }
    }
}
