//! `derive_state`: one input applied to one execution, as a pure function.
//!
//! Every check that can reject an input runs before anything is changed, so a rejected input
//! leaves the state exactly as it was. After the input itself, [`settle`](super::settle) brings
//! the execution to rest: derived task statuses, progress, completion, blocking, dispatch.

use chrono::Duration;
use planexec_schemas::command::ResolveAction;
use planexec_schemas::event::{AgentEvent, AgentEventBody};
use planexec_schemas::execution::{BlockedReason, ExecutionStatus, TaskStatus};
use planexec_schemas::task::RetryPolicy;
use planexec_schemas::{Id, Timestamp};
use serde_json::Value;

use super::state::{AgentDirectory, ExecutionState};
use super::transitions::{InvalidTransition, validate_task_transition, validate_transition};

/// Something that happens to an execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Its tasks were materialised: QUEUED (or NEEDS_REVIEW when the plan must be reviewed first).
    Start {
        needs_review: bool,
    },
    /// An operator approved the plan: NEEDS_REVIEW → QUEUED.
    Approve,
    /// An agent's event; `sender` is the agent the transport proved it came from.
    Agent {
        sender: Id,
        event: AgentEvent,
    },
    Pause,
    /// Resume a paused execution, or retry the failed tasks of a blocked one.
    Resume,
    Cancel {
        reason: String,
    },
    /// Time passed: fire the deadlines that are due at `Context::now`.
    Tick,
    /// Agents came, went or changed: look again at routing and blocks.
    AgentsChanged,
    /// Move one leaf, or the whole execution, to another agent.
    Reassign {
        task: Option<Id>,
        to: Id,
    },
    /// An operator retries or skips one leaf.
    Resolve {
        task: Id,
        action: ResolveAction,
    },
}

/// What the machine may know beyond the state: the time and the agents.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub now: Timestamp,
    pub agents: &'a AgentDirectory,
    /// Back-off of retries; `max_attempts` comes from each task.
    pub retry: RetryPolicy,
    /// How long a dispatched task may wait in an agent's queue before it counts as timed out.
    pub queue_timeout: Duration,
    /// How long a dispatch may stay unconfirmed by JetStream before it is published again
    /// (the publisher crashed between commit and publish).
    pub publish_grace: Duration,
}

/// Why an input was not applied. `code()` is the stable reason stored with a rejected event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("task {0} is not part of this execution")]
    UnknownTask(Id),
    #[error("task {0} has subtasks; events are about its subtasks")]
    NotALeaf(Id),
    #[error("agent {sender} reported on a task assigned to {}", assignee.map_or_else(|| "nobody".to_owned(), |a| a.to_string()))]
    WrongAgent { sender: Id, assignee: Option<Id> },
    #[error("attempt {got} is superseded by attempt {current}")]
    StaleAttempt { current: u32, got: u32 },
    #[error("attempt {got} was never dispatched (current attempt is {current})")]
    UnknownAttempt { current: u32, got: u32 },
    #[error("the task is {status}, not in flight")]
    TaskNotInFlight { status: TaskStatus },
    #[error("the task has already started")]
    AlreadyStarted,
    #[error("the execution is {0} and takes no more events")]
    ExecutionFinished(ExecutionStatus),
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    #[error("{0}")]
    NotApplicable(String),
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownTask(_) => "unknown_task",
            Self::NotALeaf(_) => "not_a_leaf",
            Self::WrongAgent { .. } => "wrong_agent",
            Self::StaleAttempt { .. } => "stale_attempt",
            Self::UnknownAttempt { .. } => "unknown_attempt",
            Self::TaskNotInFlight { .. } => "task_not_in_flight",
            Self::AlreadyStarted => "already_started",
            Self::ExecutionFinished(_) => "execution_finished",
            Self::InvalidTransition(_) => "invalid_transition",
            Self::NotApplicable(_) => "not_applicable",
        }
    }
}

/// One thing that changed; the engine turns these into history rows, logs and messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Execution {
        from: ExecutionStatus,
        to: ExecutionStatus,
        reason: Option<String>,
    },
    /// The block stays but its reason changed.
    BlockedReason {
        reason: BlockedReason,
        detail: String,
    },
    Task {
        index: usize,
        from: TaskStatus,
        to: TaskStatus,
    },
    Dispatched {
        index: usize,
        agent: Id,
        attempt: u32,
    },
    /// The dispatch of a still unconfirmed attempt must be published again.
    Republish {
        index: usize,
        agent: Id,
        attempt: u32,
    },
    RetryScheduled {
        index: usize,
        attempt: u32,
        failures: u32,
        at: Timestamp,
        error: String,
    },
    GaveUp {
        index: usize,
        attempt: u32,
        failures: u32,
        error: String,
    },
    TimedOut {
        index: usize,
        attempt: u32,
        deadline: Timestamp,
    },
    /// A leaf in flight was taken away from `agent`; it must be told to stop.
    Revoked {
        index: usize,
        agent: Id,
        attempt: u32,
        reason: String,
    },
    Reassigned {
        index: usize,
        attempt: u32,
        from: Option<Id>,
        to: Id,
    },
    Skipped {
        index: usize,
    },
    Completed {
        index: usize,
        output: Value,
    },
    Failed {
        index: usize,
        error: String,
    },
}

/// The effect of one input: the new state and what changed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub state: ExecutionState,
    pub changes: Vec<Change>,
}

/// Applies `input` to a copy of `state`. A rejection changes nothing.
pub fn derive_state(
    state: &ExecutionState,
    input: &Input,
    ctx: &Context<'_>,
) -> Result<Transition, Rejection> {
    let mut next = state.clone();
    let mut changes = Vec::new();
    apply(&mut next, input, ctx, &mut changes)?;
    Ok(Transition {
        state: next,
        changes,
    })
}

/// Applies `input` in place. On `Err`, `state` and `changes` are untouched.
pub fn apply(
    state: &mut ExecutionState,
    input: &Input,
    ctx: &Context<'_>,
    changes: &mut Vec<Change>,
) -> Result<(), Rejection> {
    let mut m = Mutator {
        state,
        ctx,
        changes,
    };
    match input {
        Input::Start { needs_review } => m.start(*needs_review),
        Input::Approve => m.approve(),
        Input::Agent { sender, event } => m.agent_event(*sender, event)?,
        Input::Pause => m.pause()?,
        Input::Resume => m.resume()?,
        Input::Cancel { reason } => m.cancel(reason)?,
        Input::Tick => m.tick(),
        Input::AgentsChanged => {}
        Input::Reassign { task, to } => m.reassign(*task, *to)?,
        Input::Resolve { task, action } => m.resolve(*task, *action)?,
    }
    super::settle::settle(&mut m);
    Ok(())
}

/// The working handle on a state: every mutation goes through it and is recorded.
pub(super) struct Mutator<'s, 'c, 'a> {
    pub state: &'s mut ExecutionState,
    pub ctx: &'c Context<'a>,
    pub changes: &'s mut Vec<Change>,
}

impl Mutator<'_, '_, '_> {
    pub fn set_status(&mut self, to: ExecutionStatus, reason: Option<String>) {
        let from = self.state.status;
        if from == to {
            return;
        }
        debug_assert!(
            validate_transition(from, to).is_ok(),
            "machine bug: {from} → {to}"
        );
        self.state.status = to;
        if to != ExecutionStatus::Blocked {
            self.state.blocked_reason = None;
            self.state.blocked_detail = None;
        }
        if to == ExecutionStatus::Running && self.state.started_at.is_none() {
            self.state.started_at = Some(self.ctx.now);
        }
        if to.is_terminal() {
            self.state.finished_at = Some(self.ctx.now);
        }
        self.changes.push(Change::Execution { from, to, reason });
    }

    pub fn set_task(&mut self, index: usize, to: TaskStatus) {
        let node = &mut self.state.nodes[index];
        let from = node.status;
        if from == to {
            return;
        }
        if node.spec.is_leaf {
            debug_assert!(
                validate_task_transition(from, to).is_ok(),
                "machine bug: task {from} → {to}"
            );
        }
        node.status = to;
        if matches!(
            to,
            TaskStatus::Completed
                | TaskStatus::Failed
                | TaskStatus::Cancelled
                | TaskStatus::Skipped
        ) {
            node.finished_at = Some(self.ctx.now);
        }
        if !to.is_in_flight() {
            node.lease_deadline = None;
        }
        if to != TaskStatus::RetryWait {
            node.next_attempt_at = None;
        }
        self.changes.push(Change::Task { index, from, to });
    }

    fn start(&mut self, needs_review: bool) {
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

    fn approve(&mut self) {
        if self.state.status == ExecutionStatus::NeedsReview {
            self.set_status(ExecutionStatus::Queued, Some("plan approved".into()));
        }
    }

    fn pause(&mut self) -> Result<(), Rejection> {
        validate_transition(self.state.status, ExecutionStatus::Paused)?;
        self.set_status(
            ExecutionStatus::Paused,
            Some("paused by an operator".into()),
        );
        Ok(())
    }

    fn resume(&mut self) -> Result<(), Rejection> {
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

    fn cancel(&mut self, reason: &str) -> Result<(), Rejection> {
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

    /// Tells the holder of an in-flight leaf to stop.
    fn revoke_if_in_flight(&mut self, index: usize, reason: &str) {
        let node = &self.state.nodes[index];
        if let (true, Some(agent)) = (node.status.is_in_flight(), node.assigned_agent) {
            self.changes.push(Change::Revoked {
                index,
                agent,
                attempt: node.attempt,
                reason: reason.to_owned(),
            });
        }
    }

    fn leaf(&self, task: Id) -> Result<usize, Rejection> {
        let index = self
            .state
            .index_of(task)
            .ok_or(Rejection::UnknownTask(task))?;
        if !self.state.nodes[index].spec.is_leaf {
            return Err(Rejection::NotALeaf(task));
        }
        Ok(index)
    }

    fn agent_event(&mut self, sender: Id, event: &AgentEvent) -> Result<(), Rejection> {
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
        let status = node.status;
        let in_flight = status.is_in_flight();
        let not_in_flight = Rejection::TaskNotInFlight { status };
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
                if !in_flight {
                    return Err(not_in_flight);
                }
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
                if !in_flight {
                    return Err(not_in_flight);
                }
                let wish = retry_after_seconds.map(|s| Duration::milliseconds((s * 1000.0) as i64));
                self.fail_attempt(index, error, *retryable, wish);
            }
            AgentEventBody::TaskReleased { .. } => {
                if !in_flight {
                    return Err(not_in_flight);
                }
                self.state.nodes[index].assigned_agent = None;
                self.set_task(index, TaskStatus::Ready);
            }
        }
        Ok(())
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

    /// An attempt failed (or timed out): retry after a back-off, or give up.
    fn fail_attempt(&mut self, index: usize, error: &str, retryable: bool, wish: Option<Duration>) {
        let now = self.ctx.now;
        let node = &mut self.state.nodes[index];
        node.failures += 1;
        let (attempt, failures) = (node.attempt, node.failures);
        let policy = RetryPolicy {
            max_attempts: node.spec.max_attempts,
            ..self.ctx.retry
        };
        self.changes.push(Change::Failed {
            index,
            error: error.to_owned(),
        });
        if retryable && policy.allows_another(failures) {
            let backoff = Duration::from_std(policy.backoff(failures)).unwrap_or(Duration::zero());
            let at = now + wish.map_or(backoff, |w| w.max(backoff));
            self.set_task(index, TaskStatus::RetryWait);
            self.state.nodes[index].next_attempt_at = Some(at);
            self.changes.push(Change::RetryScheduled {
                index,
                attempt,
                failures,
                at,
                error: error.to_owned(),
            });
        } else {
            self.set_task(index, TaskStatus::Failed);
            self.changes.push(Change::GaveUp {
                index,
                attempt,
                failures,
                error: error.to_owned(),
            });
        }
    }

    fn tick(&mut self) {
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
                    let attempt = self.state.nodes[index].attempt;
                    self.changes.push(Change::TimedOut {
                        index,
                        attempt,
                        deadline,
                    });
                    self.revoke_if_in_flight(index, "timed out");
                    let what = if status == TaskStatus::Running {
                        "running"
                    } else {
                        "waiting in the agent's queue"
                    };
                    self.fail_attempt(
                        index,
                        &format!("attempt {attempt} timed out while {what}"),
                        true,
                        None,
                    );
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

    fn reassign(&mut self, task: Option<Id>, to: Id) -> Result<(), Rejection> {
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

    fn resolve(&mut self, task: Id, action: ResolveAction) -> Result<(), Rejection> {
        if self.state.status.is_terminal() {
            return Err(Rejection::ExecutionFinished(self.state.status));
        }
        let index = self.leaf(task)?;
        let status = self.state.nodes[index].status;
        match action {
            ResolveAction::Retry => {
                if status != TaskStatus::Failed {
                    return Err(Rejection::NotApplicable(format!(
                        "only a failed task can be retried; this one is {status}"
                    )));
                }
                self.state.nodes[index].failures = 0;
                self.set_task(index, TaskStatus::Ready);
            }
            ResolveAction::Skip => {
                if status.is_terminal() {
                    return Err(Rejection::NotApplicable(format!(
                        "the task is already {status}"
                    )));
                }
                self.revoke_if_in_flight(index, "skipped by an operator");
                self.set_task(index, TaskStatus::Skipped);
                self.changes.push(Change::Skipped { index });
            }
        }
        Ok(())
    }
}
