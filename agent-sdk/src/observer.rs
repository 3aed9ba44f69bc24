//! A window onto what the agent receives and delivers, for logs, metrics and tests.
//!
//! The Larry simulator writes its event log through this; a test waits on it to know that a
//! delivery failed. Callbacks run on the SDK's own tasks, so they must return quickly (send to
//! a channel, bump a counter) and must not block.

use planexec_schemas::event::AgentEvent;
use planexec_schemas::notice::RejectionNotice;
use planexec_schemas::task::AgentMessage;

use crate::Error;

/// Notified of the agent's traffic. Every method has an empty default.
pub trait Observer: Send + Sync + 'static {
    /// A message came off the agent's queue (or with an HTTP answer), before it is acted on.
    fn received(&self, _message: &AgentMessage) {}

    /// The server confirmed an event (JetStream ack, or HTTP 200/202).
    fn delivered(&self, _event: &AgentEvent) {}

    /// An attempt to deliver an event failed; it stays buffered and is sent again, with the
    /// same id, after a back-off.
    fn delivery_failed(&self, _event: &AgentEvent, _error: &Error) {}

    /// The event will never be delivered: the server refused it for good, or it was still
    /// buffered when the agent stopped.
    fn lost(&self, _event: &AgentEvent, _reason: &str) {}

    /// The coordinator did not apply an event this agent published over NATS (the server had
    /// confirmed it already): the notice says which and why. Logged as a warning as well.
    fn rejected(&self, _notice: &RejectionNotice) {}
}

/// Observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}
