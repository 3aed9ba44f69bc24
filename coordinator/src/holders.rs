//! Tasks whose agent no longer holds them: an agent that crashed and came back under the same id
//! says, in its heartbeat, that it holds nothing, while the coordinator still counts its tasks
//! as running. Those are handed out again at once instead of waiting out their lease.
//!
//! Events and heartbeats travel apart (JetStream and core NATS), so a heartbeat saying "none"
//! can overtake the completion the agent sent just before it. A task is therefore released only
//! when the agent has said so for a grace period and the coordinators have applied every event
//! published up to then: the events consumer's ack floor has passed the stream's last sequence
//! taken after the heartbeat (the watermark). Replicas may both do this; the engine makes the
//! second a no-op.

use async_nats::jetstream::consumer::PullConsumer;
use chrono::Utc;

use crate::Error;
use crate::engine::{Engine, Item, LockMode, Work};
use crate::machine::Input;

/// Releases the running tasks of agents that hold nothing, where it is safe to.
pub async fn release(engine: &Engine) -> Result<(), Error> {
    let grace = chrono::Duration::from_std(engine.options().holder_grace)
        .unwrap_or(chrono::Duration::seconds(3));
    let candidates = engine.liveness().empty(Utc::now(), grace);
    if candidates.is_empty() {
        return Ok(());
    }
    let ns = &engine.options().namespace;
    let js = engine.jetstream();
    if candidates.iter().any(|c| c.watermark.is_none()) {
        let last = js
            .get_stream(ns.events_stream())
            .await
            .map_err(|e| Error::nats("looking up the events stream", e))?
            .get_info()
            .await
            .map_err(|e| Error::nats("reading the events stream", e))?
            .state
            .last_sequence;
        for c in candidates.iter().filter(|c| c.watermark.is_none()) {
            engine.liveness().set_watermark(c.agent, c.since, last);
        }
        // Applied up to the watermark only later: come back at the next flush.
        return Ok(());
    }
    let consumer: PullConsumer = js
        .get_consumer_from_stream(ns.coordinator_consumer(), ns.events_stream())
        .await
        .map_err(|e| Error::nats("looking up the events consumer", e))?;
    let applied = consumer
        .get_info()
        .await
        .map_err(|e| Error::nats("reading the events consumer", e))?
        .ack_floor
        .stream_sequence;
    for c in candidates {
        if c.watermark.is_some_and(|w| w > applied) {
            continue;
        }
        let executions =
            planexec_store::executions::schedule::running_on(engine.pool(), c.agent, c.since)
                .await?;
        let items: Vec<Item> = executions
            .into_iter()
            .map(|execution_id| Item {
                execution_id,
                work: Work::Operator(Input::HolderEmpty {
                    agent: c.agent,
                    since: c.since,
                }),
            })
            .collect();
        for chunk in items.chunks(32) {
            engine.run(chunk, LockMode::Wait).await?;
        }
        engine.liveness().handled(c.agent, c.since);
    }
    Ok(())
}
