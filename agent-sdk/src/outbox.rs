//! The outbox: events wait here, in order, until the server confirms them.
//!
//! Handlers and the runner push events into a bounded queue (a full queue makes them wait: the
//! agent slows down rather than forgetting what it did). One delivery loop sends them in
//! windows: a window is sent at once and its confirmations awaited in order, so at most
//! `window` confirmations are ever outstanding. An event whose delivery failed for a passing
//! reason stays at the head of the queue and is sent again, with the same `event_id`, after a
//! back-off; the server and the coordinator drop the copies. An event refused for good is
//! reported to the observer and dropped, so that it cannot block the events behind it.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use planexec_schemas::event::AgentEvent;
use planexec_schemas::task::AgentMessage;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::backoff::Backoff;
use crate::observer::Observer;

/// The result of delivering one event: confirmed (with, over HTTP, the agent's next message),
/// or an error ([`Error::is_transient`] decides whether it is tried again).
pub(crate) type Delivered = Result<Option<AgentMessage>, Error>;

/// Something that can deliver events to planexec.
pub(crate) trait Deliver: Send + Sync + 'static {
    /// Delivers `events` in order and says what became of each (one result per event).
    fn deliver(&self, events: &[AgentEvent]) -> impl Future<Output = Vec<Delivered>> + Send;
}

/// The sending side: cheap to clone, shared by the runner and every task's context.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<AgentEvent>,
    /// Events that end an attempt, queued and not yet confirmed or dropped.
    endings: Arc<AtomicUsize>,
}

impl Outbox {
    /// Queues `event`, waiting while the queue is full. Returns false when the agent has
    /// stopped delivering (the event is lost, and logged as such).
    pub async fn push(&self, event: AgentEvent) -> bool {
        let ends = event.body.event_type().ends_attempt();
        if ends {
            self.endings.fetch_add(1, Ordering::SeqCst);
        }
        match self.tx.send(event).await {
            Ok(()) => true,
            Err(mpsc::error::SendError(event)) => {
                if ends {
                    self.endings.fetch_sub(1, Ordering::SeqCst);
                }
                tracing::warn!(event_id = %event.event_id, event_type = event.body.event_type().as_str(),
                    "the agent has stopped delivering events; this one is lost");
                false
            }
        }
    }

    /// Attempts whose last event is not confirmed yet: the agent still holds them, as far as
    /// the coordinator may know (the heartbeat counts them).
    pub fn unconfirmed_endings(&self) -> usize {
        self.endings.load(Ordering::SeqCst)
    }
}

/// How the delivery loop behaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeliveryOptions {
    /// Most events waiting in the queue.
    pub capacity: usize,
    /// Most events sent before their confirmations are awaited.
    pub window: usize,
    pub backoff: Backoff,
}

/// What the delivery loop did, when it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DeliveryReport {
    pub delivered: u64,
    pub lost: u64,
    pub failed_attempts: u64,
}

/// The receiving side: owns the queue and sends its events until told to stop.
pub(crate) struct Delivery<D> {
    deliver: D,
    rx: mpsc::Receiver<AgentEvent>,
    pending: VecDeque<AgentEvent>,
    options: DeliveryOptions,
    observer: Arc<dyn Observer>,
    /// Where messages that come back with a confirmation go (the HTTP `next` task).
    next: Option<mpsc::UnboundedSender<AgentMessage>>,
    report: DeliveryReport,
    endings: Arc<AtomicUsize>,
}

impl<D> std::fmt::Debug for Delivery<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("pending", &self.pending.len())
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

/// A new outbox and the loop that empties it.
pub(crate) fn outbox<D: Deliver>(
    deliver: D,
    options: DeliveryOptions,
    observer: Arc<dyn Observer>,
    next: Option<mpsc::UnboundedSender<AgentMessage>>,
) -> (Outbox, Delivery<D>) {
    let (tx, rx) = mpsc::channel(options.capacity.max(1));
    let endings = Arc::new(AtomicUsize::new(0));
    let delivery = Delivery {
        endings: endings.clone(),
        deliver,
        rx,
        pending: VecDeque::new(),
        options,
        observer,
        next,
        report: DeliveryReport::default(),
    };
    (Outbox { tx, endings }, delivery)
}

impl<D: Deliver> Delivery<D> {
    /// Delivers until `closing` fires and every queued event is confirmed, or until `abandon`
    /// fires (what is left then is lost).
    pub async fn run(
        mut self,
        closing: CancellationToken,
        abandon: CancellationToken,
    ) -> DeliveryReport {
        let mut schedule = self.options.backoff.schedule();
        let mut closed = false;
        loop {
            if self.pending.is_empty() {
                let event = tokio::select! {
                    event = self.rx.recv() => event,
                    _ = closing.cancelled(), if !closed => {
                        // Refuse new events; those already queued are still delivered.
                        self.rx.close();
                        closed = true;
                        continue;
                    }
                    _ = abandon.cancelled() => break,
                };
                match event {
                    Some(event) => self.pending.push_back(event),
                    None => break,
                }
            }
            while self.pending.len() < self.options.window {
                match self.rx.try_recv() {
                    Ok(event) => self.pending.push_back(event),
                    Err(_) => break,
                }
            }
            let size = self.pending.len().min(self.options.window.max(1));
            let window: Vec<AgentEvent> = self.pending.drain(..size).collect();
            let results = tokio::select! {
                results = self.deliver.deliver(&window) => results,
                _ = abandon.cancelled() => {
                    self.pending.extend(window);
                    break;
                }
            };
            let retry = self.settle(window, results);
            if retry.is_empty() {
                schedule = self.options.backoff.schedule();
                continue;
            }
            // Failed events go back to the head, in their order, ahead of newer ones.
            for event in retry.into_iter().rev() {
                self.pending.push_front(event);
            }
            tokio::select! {
                _ = tokio::time::sleep(schedule.next_delay()) => {}
                _ = abandon.cancelled() => break,
            }
        }
        self.abandon_rest();
        self.report
    }

    /// Accounts for one window's results; returns the events to send again.
    fn settle(&mut self, window: Vec<AgentEvent>, results: Vec<Delivered>) -> Vec<AgentEvent> {
        let mut results = results.into_iter();
        let mut retry = Vec::new();
        for event in window {
            let result = results.next().unwrap_or_else(|| {
                Err(Error::Protocol {
                    what: "the transport".into(),
                    message: "no delivery result for an event".into(),
                })
            });
            match result {
                Ok(next) => {
                    self.settled(&event);
                    self.report.delivered += 1;
                    self.observer.delivered(&event);
                    if let (Some(message), Some(to)) = (next, &self.next) {
                        let _ = to.send(message);
                    }
                }
                Err(error) if error.is_transient() => {
                    self.report.failed_attempts += 1;
                    tracing::debug!(event_id = %event.event_id, error = %error, "delivery failed; will send again");
                    self.observer.delivery_failed(&event, &error);
                    retry.push(event);
                }
                Err(error) => {
                    self.settled(&event);
                    self.report.lost += 1;
                    tracing::error!(event_id = %event.event_id, task = %event.task_id,
                        event_type = event.body.event_type().as_str(), error = %error,
                        "the event was refused and is dropped");
                    self.observer.lost(&event, &error.to_string());
                }
            }
        }
        retry
    }

    /// An event is confirmed or dropped: an attempt it ended is no longer held.
    fn settled(&self, event: &AgentEvent) {
        if event.body.event_type().ends_attempt() {
            self.endings.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn abandon_rest(&mut self) {
        self.rx.close();
        while let Ok(event) = self.rx.try_recv() {
            self.pending.push_back(event);
        }
        let abandoned: Vec<AgentEvent> = self.pending.drain(..).collect();
        for event in abandoned {
            self.settled(&event);
            self.report.lost += 1;
            tracing::error!(event_id = %event.event_id, task = %event.task_id,
                event_type = event.body.event_type().as_str(),
                "the agent stopped before this event could be delivered");
            self.observer
                .lost(&event, "the agent stopped before it could be delivered");
        }
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
