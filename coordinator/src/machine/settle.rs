//! Bringing an execution to rest after an input: derived statuses, progress, completion,
//! blocking, readiness and dispatch.
//!
//! This is the one place that decides whether an execution is BLOCKED, so that "running" never
//! hides trouble: a failed task, a task no agent can do, or an agent that went silent.

use planexec_schemas::Id;
use planexec_schemas::execution::{BlockedReason, ExecutionStatus, RoutingPolicy, TaskStatus};

use super::mutator::Mutator;
use super::retry::failure_reason;
use super::vocabulary::Change;

pub(super) fn settle(m: &mut Mutator<'_, '_, '_>) {
    update_progress(m);
    let status = m.state.status;
    if status == ExecutionStatus::Paused {
        // Show what would run next, but dispatch nothing.
        mark_ready(m);
    } else if matches!(
        status,
        ExecutionStatus::Queued | ExecutionStatus::Running | ExecutionStatus::Blocked
    ) {
        if m.state.leaves().all(|(_, n)| n.status.is_done()) {
            if status != ExecutionStatus::Running {
                m.set_status(ExecutionStatus::Running, None);
            }
            m.set_status(
                ExecutionStatus::Completed,
                Some("every task is done".into()),
            );
        } else {
            let blocker = failure_block(m)
                .or_else(|| dispatch(m))
                .or_else(|| offline_block(m));
            apply_block(m, blocker);
        }
    }
    derive_parents(m);
    update_current(m);
}

/// A task with subtasks mirrors them.
fn derive_parents(m: &mut Mutator<'_, '_, '_>) {
    let parents: Vec<usize> = m
        .state
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.spec.is_leaf)
        .map(|(i, _)| i)
        .collect();
    for parent in parents {
        let children: Vec<TaskStatus> = m.state.children(parent).map(|(_, n)| n.status).collect();
        if children.is_empty() {
            continue;
        }
        let derived = if children.iter().all(|s| s.is_done()) {
            if children.contains(&TaskStatus::Completed) {
                TaskStatus::Completed
            } else {
                TaskStatus::Skipped
            }
        } else if children.contains(&TaskStatus::Failed) {
            TaskStatus::Failed
        } else if children
            .iter()
            .all(|s| s.is_done() || *s == TaskStatus::Cancelled)
        {
            TaskStatus::Cancelled
        } else if children
            .iter()
            .any(|s| !matches!(s, TaskStatus::Pending | TaskStatus::Ready))
        {
            TaskStatus::Running
        } else if children.contains(&TaskStatus::Ready) {
            TaskStatus::Ready
        } else {
            TaskStatus::Pending
        };
        if derived == TaskStatus::Running && m.state.nodes[parent].started_at.is_none() {
            m.state.nodes[parent].started_at = Some(m.ctx.now);
        }
        m.set_task(parent, derived);
    }
}

fn update_progress(m: &mut Mutator<'_, '_, '_>) {
    let total = m.state.leaves_total();
    if total == 0 {
        return;
    }
    let done = f64::from(m.state.leaves_done()) / f64::from(total) * 100.0;
    // Rounded to 0.01 so that stored and computed values compare equal.
    let done = (done * 100.0).round() / 100.0;
    m.state.progress = m.state.progress.max(done);
}

/// A leaf that failed for good stops the execution until an operator decides.
fn failure_block(m: &Mutator<'_, '_, '_>) -> Option<(BlockedReason, String)> {
    let (_, node) = m
        .state
        .leaves()
        .find(|(_, n)| n.status == TaskStatus::Failed)?;
    let reason = failure_reason(&m.ctx.retry, node);
    let detail = format!(
        "task {} \"{}\" failed {} time(s); retry or skip it, or resume the execution",
        node.spec.wbs, node.spec.title, node.failures
    );
    Some((reason, detail))
}

/// Marks leaves ready and dispatches as many as capacity allows; returns what prevents a
/// ready leaf from being dispatched, if anything.
fn dispatch(m: &mut Mutator<'_, '_, '_>) -> Option<(BlockedReason, String)> {
    mark_ready(m);
    let in_flight = m
        .state
        .leaves()
        .filter(|(_, n)| n.status.is_in_flight())
        .count();
    let mut capacity = (m.state.max_parallel as usize).saturating_sub(in_flight);
    let ready: Vec<usize> = m
        .state
        .leaves()
        .filter(|(_, n)| n.status == TaskStatus::Ready)
        .map(|(i, _)| i)
        .collect();
    let mut blocker = None;
    for index in ready {
        if capacity == 0 {
            break;
        }
        match route(m, index) {
            Ok(agent) => {
                send(m, index, agent);
                capacity -= 1;
            }
            Err(block) => {
                blocker.get_or_insert(block);
            }
        }
    }
    blocker
}

/// Leaves whose predecessors are done become ready: in strict WBS order the first unfinished
/// leaf; with parallelism every leaf whose task's dependencies are done.
fn mark_ready(m: &mut Mutator<'_, '_, '_>) {
    let candidates: Vec<usize> = if m.state.max_parallel <= 1 {
        m.state
            .leaves()
            .find(|(_, n)| !n.status.is_done())
            .filter(|(_, n)| n.status == TaskStatus::Pending)
            .map(|(i, _)| i)
            .into_iter()
            .collect()
    } else {
        m.state
            .leaves()
            .filter(|(_, n)| n.status == TaskStatus::Pending)
            .filter(|(i, _)| {
                let task = m.state.nodes[*i].spec.parent.unwrap_or(*i);
                m.state.nodes[task]
                    .spec
                    .deps
                    .iter()
                    .all(|d| task_done(m, *d))
            })
            .map(|(i, _)| i)
            .collect()
    };
    for index in candidates {
        m.set_task(index, TaskStatus::Ready);
    }
}

/// Whether a task is done, judged from its subtasks when it has some: a parent's own status is
/// derived only at the end of `settle`, after dispatch.
fn task_done(m: &Mutator<'_, '_, '_>, task: usize) -> bool {
    if m.state.nodes[task].spec.is_leaf {
        return m.state.nodes[task].status.is_done();
    }
    m.state.children(task).all(|(_, n)| n.status.is_done())
}

/// Which agent gets a ready leaf, or why none can.
fn route(m: &Mutator<'_, '_, '_>, index: usize) -> Result<Id, (BlockedReason, String)> {
    let node = &m.state.nodes[index];
    let capability = node.spec.capability.as_deref().unwrap_or_default();
    let agents = m.ctx.agents;
    let pinned = node.assigned_agent;
    match m.state.routing {
        RoutingPolicy::Agent => {
            let agent = pinned.unwrap_or(m.state.agent_id);
            if agents.can(agent, capability) {
                // An offline agent still gets the task queued; the offline block says why
                // nothing moves, and it clears when the agent comes back.
                Ok(agent)
            } else {
                Err((
                    BlockedReason::NoCapableAgent,
                    format!(
                        "agent {agent} lacks capability {capability:?} needed by task {}",
                        node.spec.wbs
                    ),
                ))
            }
        }
        RoutingPolicy::AnyCapable => {
            if let Some(agent) =
                pinned.filter(|a| agents.is_online(*a) && agents.can(*a, capability))
            {
                return Ok(agent);
            }
            let capable = agents.capable(capability);
            if capable.is_empty() {
                return Err((
                    BlockedReason::NoCapableAgent,
                    format!(
                        "no registered agent has capability {capability:?} needed by task {}",
                        node.spec.wbs
                    ),
                ));
            }
            let load = |agent: Id| {
                m.state
                    .leaves()
                    .filter(|(_, n)| n.status.is_in_flight() && n.assigned_agent == Some(agent))
                    .count()
            };
            capable
                .iter()
                .filter(|(_, a)| a.online)
                .map(|(id, _)| *id)
                // Least loaded within this execution; the execution's own agent wins ties.
                .min_by_key(|id| (load(*id), *id != m.state.agent_id, *id))
                .ok_or_else(|| {
                    (
                        BlockedReason::AgentOffline,
                        format!(
                            "every agent with capability {capability:?} (task {}) is offline",
                            node.spec.wbs
                        ),
                    )
                })
        }
    }
}

fn send(m: &mut Mutator<'_, '_, '_>, index: usize, agent: Id) {
    let now = m.ctx.now;
    let queue_timeout = m.ctx.queue_timeout;
    let node = &mut m.state.nodes[index];
    node.attempt += 1;
    node.assigned_agent = Some(agent);
    node.dispatched_at = Some(now);
    node.published = false;
    node.started_at = None;
    node.progress = 0.0;
    let attempt = node.attempt;
    m.set_task(index, TaskStatus::Dispatched);
    m.state.nodes[index].lease_deadline = Some(now + queue_timeout);
    m.changes.push(Change::Dispatched {
        index,
        agent,
        attempt,
    });
}

/// A leaf held by an agent that shows no sign of life.
fn offline_block(m: &Mutator<'_, '_, '_>) -> Option<(BlockedReason, String)> {
    m.state
        .leaves()
        .filter(|(_, n)| n.status.is_in_flight())
        .find_map(|(_, n)| {
            n.assigned_agent
                .filter(|a| !m.ctx.agents.is_online(*a))
                .map(|a| (a, n))
        })
        .map(|(agent, n)| {
            (
                BlockedReason::AgentOffline,
                format!(
                    "agent {agent} holding task {} shows no sign of life",
                    n.spec.wbs
                ),
            )
        })
}

fn apply_block(m: &mut Mutator<'_, '_, '_>, blocker: Option<(BlockedReason, String)>) {
    let anything_in_flight = m.state.leaves().any(|(_, n)| n.status.is_in_flight());
    match (m.state.status, blocker) {
        (ExecutionStatus::Queued | ExecutionStatus::Running, Some((reason, detail))) => {
            m.set_status(
                ExecutionStatus::Blocked,
                Some(format!("{}: {detail}", reason.as_str())),
            );
            m.state.blocked_reason = Some(reason);
            m.state.blocked_detail = Some(detail);
        }
        (ExecutionStatus::Blocked, Some((reason, detail)))
            if m.state.blocked_reason != Some(reason)
                || m.state.blocked_detail.as_deref() != Some(detail.as_str()) =>
        {
            m.state.blocked_reason = Some(reason);
            m.state.blocked_detail = Some(detail.clone());
            m.changes.push(Change::BlockedReason { reason, detail });
        }
        (ExecutionStatus::Blocked, None) => {
            m.set_status(ExecutionStatus::Running, Some("unblocked".into()))
        }
        (ExecutionStatus::Queued, None) if anything_in_flight => {
            m.set_status(
                ExecutionStatus::Running,
                Some("first task dispatched".into()),
            );
        }
        _ => {}
    }
}

fn update_current(m: &mut Mutator<'_, '_, '_>) {
    let in_order = |wanted: &dyn Fn(TaskStatus) -> bool| {
        m.state
            .leaves()
            .find(|(_, n)| wanted(n.status))
            .map(|(i, _)| i)
    };
    m.state.current = in_order(&|s| s.is_in_flight()).or_else(|| {
        in_order(&|s| {
            matches!(
                s,
                TaskStatus::Ready | TaskStatus::RetryWait | TaskStatus::Failed
            )
        })
    });
}
