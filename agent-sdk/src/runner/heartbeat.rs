//! Signs of life, every heartbeat interval, for as long as the agent runs (shutdown included:
//! tasks finishing within the grace must not look abandoned).
//!
//! Over NATS a heartbeat is always sent. Over HTTP every poll already counts as one, so a
//! heartbeat is posted at start and then only while tasks run (polling may be paused then).
//! Each says how many tasks the agent holds: the first one, `0`, tells the coordinator that
//! an agent restarting under the same id holds nothing any more, so that the tasks its previous
//! run held are handed out again at once.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::link::Link;
use super::tasks::Tasks;
use crate::handler::Handler;

pub(crate) async fn run<H: Handler>(
    link: Link,
    tasks: Arc<Tasks<H>>,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let in_flight = u32::try_from(tasks.in_flight()).unwrap_or(u32::MAX);
        let sent = match &link {
            Link::Nats(link) => link.heartbeat(in_flight).await,
            Link::Http(link) if first || in_flight > 0 => link.heartbeat(in_flight).await,
            Link::Http(_) => Ok(()),
        };
        first = false;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "heartbeat not sent");
        }
    }
}
