//! The transport an agent runs on, as one type the runner can hold and clone.

use planexec_schemas::event::AgentEvent;

use crate::outbox::{Deliver, Delivered};
use crate::transport::http::{self, HttpLink};
use crate::transport::nats::NatsLink;

#[derive(Debug, Clone)]
pub(crate) enum Link {
    Nats(Box<NatsLink>),
    Http(HttpLink),
}

impl Link {
    /// Events sent before their confirmations are awaited: JetStream confirms in bulk; HTTP
    /// sends one request at a time anyway, so a small window keeps a retry cheap.
    pub fn window(&self) -> usize {
        match self {
            Self::Nats(_) => 256,
            Self::Http(_) => 16,
        }
    }

    pub fn max_event_bytes(&self) -> usize {
        match self {
            Self::Nats(link) => link.max_event_bytes(),
            Self::Http(_) => http::MAX_EVENT_BYTES,
        }
    }
}

impl Deliver for Link {
    async fn deliver(&self, events: &[AgentEvent]) -> Vec<Delivered> {
        match self {
            Self::Nats(link) => link.deliver(events).await,
            Self::Http(link) => link.deliver(events).await,
        }
    }
}
