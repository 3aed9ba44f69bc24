//! Signs of life, every heartbeat interval, for as long as the agent runs (shutdown included:
//! tasks finishing within the grace must not look abandoned).
//!
//! Over NATS a heartbeat is always sent. Over HTTP every poll already counts as one, so a
//! heartbeat is posted only while tasks run (polling may be paused then).

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
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let in_flight = tasks.in_flight();
        let sent = match &link {
            Link::Nats(link) => {
                link.heartbeat(u32::try_from(in_flight).unwrap_or(u32::MAX))
                    .await
            }
            Link::Http(link) if in_flight > 0 => link.heartbeat().await,
            Link::Http(_) => Ok(()),
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "heartbeat not sent");
        }
    }
}
