//! Taking work: the loops that bring tasks and cancels to the agent, one per transport.
//!
//! Both stop taking tasks as soon as `stop` fires. A fatal answer (bad token, unknown agent)
//! fires `stop` itself and is returned, so the runner shuts down gracefully and says why.
//!
//! - NATS: asks for as many messages as there are free slots (at least one, so that cancels
//!   still arrive while every slot is busy). A task that finds no free slot is handed back with
//!   a delayed NAK; it is acknowledged only when taken.
//! - HTTP: the gateway takes a message off the queue when it answers a poll, and the answer to
//!   an event may carry the next task too, so tasks cannot be handed back: they wait in a small
//!   backlog (at most `concurrency`). While every slot is busy the agent does not hold a long
//!   poll (its answer could wait for a slot); it polls without waiting every few seconds, for
//!   cancels, and stops even that while the backlog is full.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use planexec_schemas::task::{AgentMessage, TaskAssignment};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::tasks::Tasks;
use crate::Error;
use crate::backoff::Backoff;
use crate::events::TaskKey;
use crate::handler::Handler;
use crate::transport::http::HttpLink;
use crate::transport::nats::{NatsLink, Received};

/// While every slot is busy, how often an HTTP agent looks for cancels.
const BUSY_CHECK: Duration = Duration::from_secs(5);

/// What both intake loops need to know.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntakeOptions {
    pub poll_wait: Duration,
    pub backoff: Backoff,
}

/// Sleeps `delay` unless `stop` fires first; returns whether to go on.
async fn pause(delay: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = stop.cancelled() => false,
    }
}

/// Takes tasks from the agent's JetStream consumer until `stop`.
pub(crate) async fn nats<H: Handler>(
    tasks: Arc<Tasks<H>>,
    link: NatsLink,
    options: IntakeOptions,
    stop: CancellationToken,
) -> Result<(), Error> {
    let mut schedule = options.backoff.schedule();
    let mut consumer = None;
    while !stop.is_cancelled() {
        let current = match &consumer {
            Some(current) => current,
            None => match link.consumer().await {
                Ok(found) => consumer.insert(found),
                Err(e) if e.is_fatal() => {
                    stop.cancel();
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open the agent's task consumer; retrying");
                    if !pause(schedule.next_delay(), &stop).await {
                        break;
                    }
                    continue;
                }
            },
        };
        let want = tasks.slots.available_permits().max(1);
        let fetched = tokio::select! {
            fetched = link.fetch(current, want, options.poll_wait) => fetched,
            _ = stop.cancelled() => break,
        };
        let mut fetched = match fetched {
            Ok(fetched) => fetched,
            Err(e) => {
                tracing::warn!(error = %e, "cannot ask for tasks; retrying");
                // Look the consumer up again: if it was deleted, that says so.
                consumer = None;
                if !pause(schedule.next_delay(), &stop).await {
                    break;
                }
                continue;
            }
        };
        loop {
            let item = tokio::select! {
                item = fetched.next() => item,
                // Unanswered messages of this request come back after the consumer's ack wait.
                _ = stop.cancelled() => return Ok(()),
            };
            match item {
                None => break,
                Some(Ok(received)) => {
                    schedule = options.backoff.schedule();
                    take_nats(&tasks, received, options.poll_wait).await;
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "receiving tasks failed; retrying");
                    if !pause(schedule.next_delay(), &stop).await {
                        return Ok(());
                    }
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Acts on one message from the queue.
async fn take_nats<H: Handler>(tasks: &Arc<Tasks<H>>, received: Received, max_delay: Duration) {
    let message = match &received.message {
        Ok(message) => message,
        Err(e) => {
            tracing::error!(error = %e, "discarding a message that is not a task or a cancel");
            received.discard().await;
            return;
        }
    };
    match message {
        AgentMessage::Cancel(cancel) => {
            tasks.observer.received(message);
            if let Err(e) = received.ack().await {
                tracing::debug!(error = %e, "a cancel was not acknowledged; it may come again");
            }
            tasks.cancel(cancel);
        }
        AgentMessage::Task(task) => {
            if tasks.was_cancelled(&TaskKey::of(task)) {
                tasks.observer.received(message);
                let _ = received.ack().await;
                tasks.skip_cancelled(task);
                return;
            }
            let Some(permit) = tasks.try_slot() else {
                received.decline(max_delay).await;
                return;
            };
            tasks.observer.received(message);
            match received.ack().await {
                Ok(()) => tasks.start(task.clone(), permit),
                // Not taken: the server will deliver it again after its ack wait.
                Err(e) => tracing::warn!(error = %e, task = %task.task_id, "could not take a task"),
            }
        }
    }
}

/// Polls the gateway until `stop`; returns the tasks taken but never started.
pub(crate) async fn http<H: Handler>(
    tasks: Arc<Tasks<H>>,
    link: HttpLink,
    mut next: mpsc::UnboundedReceiver<AgentMessage>,
    options: IntakeOptions,
    stop: CancellationToken,
) -> (Vec<TaskAssignment>, Result<(), Error>) {
    let mut backlog: VecDeque<TaskAssignment> = VecDeque::new();
    let mut schedule = options.backoff.schedule();
    let result = loop {
        while let Ok(message) = next.try_recv() {
            accept_http(&tasks, &mut backlog, message);
        }
        while !backlog.is_empty() {
            let Some(permit) = tasks.try_slot() else {
                break;
            };
            if let Some(task) = backlog.pop_front() {
                tasks.start(task, permit);
            }
        }
        if stop.is_cancelled() {
            break Ok(());
        }
        let mut wait = options.poll_wait;
        if tasks.slots.available_permits() == 0 || !backlog.is_empty() {
            // Busy: a long poll could hold a task that a freed slot is waiting for. Wait for a
            // slot (or a task that came with an event's answer), and now and then look for
            // cancels with a poll that answers at once.
            tokio::select! {
                permit = tasks.slots.clone().acquire_owned() => {
                    if let (Ok(permit), Some(task)) = (permit, backlog.pop_front()) {
                        tasks.start(task, permit);
                    }
                    continue;
                }
                Some(message) = next.recv() => {
                    accept_http(&tasks, &mut backlog, message);
                    continue;
                }
                _ = stop.cancelled() => continue,
                _ = tokio::time::sleep(options.poll_wait.min(BUSY_CHECK)) => {}
            }
            if backlog.len() >= tasks.concurrency {
                continue;
            }
            wait = Duration::ZERO;
        }
        // Never abandoned half-way: its answer may be a task already taken off the queue.
        match link.poll(wait).await {
            Ok(Some(message)) => {
                schedule = options.backoff.schedule();
                accept_http(&tasks, &mut backlog, message);
            }
            Ok(None) => schedule = options.backoff.schedule(),
            Err(e) if e.is_fatal() => {
                stop.cancel();
                break Err(e);
            }
            Err(e @ Error::InvalidMessage { .. }) => {
                tracing::error!(error = %e, "the gateway sent something that is not a task or a cancel")
            }
            Err(e) => {
                tracing::warn!(error = %e, "polling for work failed; retrying");
                if !pause(schedule.next_delay(), &stop).await {
                    break Ok(());
                }
            }
        }
    };
    (backlog.into_iter().collect(), result)
}

fn accept_http<H: Handler>(
    tasks: &Arc<Tasks<H>>,
    backlog: &mut VecDeque<TaskAssignment>,
    message: AgentMessage,
) {
    tasks.observer.received(&message);
    match message {
        AgentMessage::Cancel(cancel) => {
            let key = (cancel.task_id, cancel.attempt);
            backlog.retain(|t| (t.task_id, t.attempt) != key);
            tasks.cancel(&cancel);
        }
        AgentMessage::Task(task) => {
            if tasks.was_cancelled(&TaskKey::of(&task)) {
                tasks.skip_cancelled(&task);
            } else {
                backlog.push_back(task);
            }
        }
    }
}
