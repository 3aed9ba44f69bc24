//! The agent runner: registers (when asked), takes tasks, runs the handler, reports, beats, and
//! shuts down gracefully.
//!
//! Shutdown, in order: stop taking tasks; hand back tasks taken but not started; give running
//! tasks the grace to finish, then hand the rest back (`task_released`); deliver what is still
//! buffered (given as long again); stop heartbeats.

mod heartbeat;
mod intake;
mod link;
mod recent;
mod tasks;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use planexec_schemas::Id;
use planexec_schemas::api::RegisteredAgent;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::handler::Handler;
use crate::options::{AgentOptions, Identity, Transport};
use crate::outbox::{DeliveryOptions, DeliveryReport, outbox};
use crate::register::{Credentials, register};
use crate::transport::{http, nats};
use crate::{Error, Registration};
use intake::IntakeOptions;
use link::Link;
use tasks::Tasks;

/// What a run did, returned when it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    pub agent_id: Id,
    /// The agent registered by this run, with its token (shown this once).
    pub registered: Option<RegisteredAgent>,
    pub tasks_completed: u64,
    pub tasks_failed: u64,
    pub tasks_released: u64,
    pub tasks_cancelled: u64,
    pub events_delivered: u64,
    /// Events that never reached the server (refused, or still buffered at the end).
    pub events_lost: u64,
    /// Delivery attempts that failed and were tried again.
    pub delivery_failures: u64,
}

/// An agent ready to run. See [`Agent::run`].
#[derive(Debug)]
pub struct Agent {
    options: AgentOptions,
}

impl Agent {
    /// Checks the options; nothing connects yet.
    pub fn new(options: AgentOptions) -> Result<Self, Error> {
        options.check()?;
        Ok(Self { options })
    }

    /// Runs `handler` until `shutdown` fires (then shuts down gracefully) or the agent's
    /// credentials are refused (then it shuts down gracefully and returns the error).
    pub async fn run<H: Handler>(
        self,
        handler: H,
        shutdown: CancellationToken,
    ) -> Result<RunReport, Error> {
        let options = self.options;
        let backoff = Backoff::new(options.min_backoff, options.max_backoff);
        let (credentials, registered) =
            identify(&options, &handler.capabilities(), backoff, &shutdown).await?;
        let agent_id = credentials.agent_id;
        let link = connect(&options, &credentials).await?;

        let (next_tx, next_rx) = mpsc::unbounded_channel();
        let delivery_options = DeliveryOptions {
            capacity: options.event_buffer,
            window: link.window(),
            backoff,
        };
        let (outbox, delivery) = outbox(
            link.clone(),
            delivery_options,
            options.observer.clone(),
            Some(next_tx),
        );
        let (closing, abandon) = (CancellationToken::new(), CancellationToken::new());
        let mut delivery = tokio::spawn(delivery.run(closing.clone(), abandon.clone()));
        let tasks = Arc::new(Tasks::new(
            Arc::new(handler),
            agent_id,
            outbox,
            options.observer.clone(),
            options.concurrency,
            options.stop_grace,
            link.max_event_bytes(),
        ));
        let beats_stop = CancellationToken::new();
        let beats = tokio::spawn(heartbeat::run(
            link.clone(),
            Arc::clone(&tasks),
            options.heartbeat_interval,
            beats_stop.clone(),
        ));
        let stop = shutdown.child_token();
        if let Link::Nats(link) = &link {
            let (link, observer, stop) = (link.clone(), options.observer.clone(), stop.clone());
            tokio::spawn(async move { link.notices(observer, stop).await });
        }
        let intake_options = IntakeOptions {
            poll_wait: options.poll_wait,
            backoff,
        };
        let mut intake = match link {
            Link::Nats(link) => {
                let (tasks, stop) = (Arc::clone(&tasks), stop.clone());
                tokio::spawn(async move {
                    (
                        Vec::new(),
                        intake::nats(tasks, *link, intake_options, stop).await,
                    )
                })
            }
            Link::Http(link) => tokio::spawn(intake::http(
                Arc::clone(&tasks),
                link,
                next_rx,
                intake_options,
                stop.clone(),
            )),
        };
        tracing::info!(agent = %agent_id, concurrency = options.concurrency, "agent running");

        stop.cancelled().await;
        let grace = options.shutdown_grace;
        tracing::info!(agent = %agent_id, grace_seconds = grace.as_secs_f64(), in_flight = tasks.in_flight(),
            "shutting down: taking no more tasks");
        tasks.shutting_down.cancel();
        let deadline = Instant::now() + grace;
        let (backlog, outcome) = match tokio::time::timeout_at(deadline, &mut intake).await {
            Ok(Ok(ended)) => ended,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the intake loop failed");
                (Vec::new(), Ok(()))
            }
            Err(_) => {
                intake.abort();
                (Vec::new(), Ok(()))
            }
        };
        for task in &backlog {
            tasks.release_unstarted(task).await;
        }
        tasks.tracker.close();
        if tokio::time::timeout_at(deadline, tasks.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = tasks.in_flight(),
                "the grace is over; handing unfinished tasks back"
            );
            tasks.release_all.cancel();
            tasks.tracker.wait().await;
        }
        closing.cancel();
        let delivered = match tokio::time::timeout(grace, &mut delivery).await {
            Ok(report) => report.unwrap_or_default(),
            Err(_) => {
                abandon.cancel();
                delivery.await.unwrap_or_default()
            }
        };
        beats_stop.cancel();
        let _ = beats.await;
        let report = report(agent_id, registered, &tasks, delivered);
        tracing::info!(?report, "agent stopped");
        outcome.map(|()| report)
    }
}

/// The agent's link to planexec over its transport.
async fn connect(options: &AgentOptions, credentials: &Credentials) -> Result<Link, Error> {
    let agent_id = credentials.agent_id;
    Ok(match &options.transport {
        Transport::Nats { url } => {
            let login = nats::Login {
                creds: options.nats_creds.clone(),
                inbox_prefix: options
                    .nats_creds
                    .as_ref()
                    .map(|_| options.namespace.agent_inbox_prefix(agent_id)),
            };
            let client = nats::connect(url, &format!("planexec-agent-{agent_id}"), &login).await?;
            Link::Nats(Box::new(nats::NatsLink::new(
                client,
                options.namespace.clone(),
                agent_id,
                options.publish_timeout,
            )))
        }
        Transport::Http { gateway } => Link::Http(http::HttpLink::new(
            gateway,
            agent_id,
            &credentials.token,
            options.publish_timeout,
        )?),
    })
}

/// The agent's credentials: given, or obtained by registering (tried again while the server
/// is unreachable, until `shutdown`).
async fn identify(
    options: &AgentOptions,
    served: &[String],
    backoff: Backoff,
    shutdown: &CancellationToken,
) -> Result<(Credentials, Option<RegisteredAgent>), Error> {
    let (registration, via) = match &options.identity {
        Identity::Registered(credentials) => return Ok((credentials.clone(), None)),
        Identity::Register { registration, via } => (registration, via),
    };
    let registration = Registration {
        capabilities: if registration.capabilities.is_empty() {
            served.to_vec()
        } else {
            registration.capabilities.clone()
        },
        ..registration.clone()
    };
    let mut schedule = backoff.schedule();
    loop {
        match register(via, &options.namespace, &registration).await {
            Ok(registered) => {
                tracing::info!(agent = %registered.agent.id, name = %registered.agent.name, "agent registered");
                return Ok((Credentials::from(&registered), Some(registered)));
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "registration failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(schedule.next_delay()) => {}
                    _ = shutdown.cancelled() => return Err(Error::Interrupted("the agent was shut down before it could register".into())),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

fn report<H>(
    agent_id: Id,
    registered: Option<RegisteredAgent>,
    tasks: &Tasks<H>,
    delivered: DeliveryReport,
) -> RunReport {
    let c = &tasks.counters;
    RunReport {
        agent_id,
        registered,
        tasks_completed: c.completed.load(Ordering::Relaxed),
        tasks_failed: c.failed.load(Ordering::Relaxed),
        tasks_released: c.released.load(Ordering::Relaxed),
        tasks_cancelled: c.cancelled.load(Ordering::Relaxed),
        events_delivered: delivered.delivered,
        events_lost: delivered.lost,
        delivery_failures: delivered.failed_attempts,
    }
}
