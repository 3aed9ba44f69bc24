//! The scheduler: fires stored deadlines and keeps agents' liveness current.
//!
//! Every tick it wakes the executions whose `next_wakeup_at` has come (leases, retries, starts,
//! unconfirmed dispatches), skipping those another replica holds. Every few seconds it flushes the
//! signs of life seen in memory, sweeps silent agents offline, and tells the executions concerned.

use std::time::{Duration, Instant};

use chrono::Utc;
use planexec_schemas::Id;
use planexec_schemas::event::Heartbeat;
use planexec_store::{agents, executions};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::engine::Engine;

/// Most executions woken per tick; the rest wait for the next one.
const WAKE_LIMIT: u32 = 256;

pub async fn run(engine: Engine, shutdown: CancellationToken) {
    let options = engine.options().clone();
    let mut tick = tokio::time::interval(options.scheduler_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_flush = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = wake_due(&engine).await {
            tracing::warn!(error = %e, "waking due executions failed; trying again next tick");
        }
        if last_flush.elapsed() >= options.liveness_flush_interval {
            last_flush = Instant::now();
            if let Err(e) = flush_liveness(&engine).await {
                tracing::warn!(error = %e, "flushing agent liveness failed; trying again");
            }
            if let Err(e) = crate::holders::release(&engine).await {
                tracing::warn!(error = %e, "handing out tasks their agents no longer hold failed; trying again");
            }
        }
    }
}

/// Wakes every execution whose stored deadline has come.
pub async fn wake_due(engine: &Engine) -> Result<usize, Error> {
    let due = executions::schedule::due(engine.pool(), Utc::now(), WAKE_LIMIT).await?;
    for chunk in due.chunks(32) {
        engine.wake(chunk).await?;
    }
    Ok(due.len())
}

/// Writes the newest signs of life, marks silent agents offline, and tells the executions
/// whose agents came or went.
pub async fn flush_liveness(engine: &Engine) -> Result<(), Error> {
    let pool = engine.pool();
    let seen = engine.liveness().take();
    let mut changed: Vec<Id> = agents::record_signs_of_life(pool, &seen).await?;
    let silent_since = Utc::now()
        - chrono::Duration::from_std(engine.options().agent_offline_after)
            .unwrap_or(chrono::Duration::seconds(60));
    let offline = agents::sweep_offline(pool, silent_since).await?;
    for agent in &offline {
        tracing::warn!(%agent, "agent shows no sign of life; marked offline");
    }
    let now = Utc::now();
    let notifications: Vec<_> = offline
        .iter()
        .map(|agent| crate::notify::agent_offline(*agent, now))
        .collect();
    planexec_store::webhooks::enqueue(pool, &notifications).await?;
    for agent in &changed {
        tracing::info!(%agent, "agent is back online");
    }
    changed.extend(offline);
    if changed.is_empty() {
        return Ok(());
    }
    let affected = executions::schedule::affected_by_agents(pool, &changed).await?;
    engine.agents_changed(&affected).await
}

/// Counts the heartbeats on `planexec.heartbeats.*` as signs of life, with what each says its
/// agent holds, until `shutdown`. The subject names the agent (NATS permissions pin an agent to
/// its own); a payload that does not parse still counts as a sign of life.
pub async fn listen_for_heartbeats(engine: Engine, shutdown: CancellationToken) {
    use futures::StreamExt;
    let ns = engine.options().namespace.clone();
    let mut subscription = match engine.nats().subscribe(ns.heartbeats_wildcard()).await {
        Ok(subscription) => subscription,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for heartbeats; agents will look offline");
            return;
        }
    };
    let prefix = format!("{}.heartbeats.", ns.prefix());
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => break,
            message = subscription.next() => message,
        };
        let Some(message) = message else { break };
        if let Some(agent) = message
            .subject
            .strip_prefix(prefix.as_str())
            .and_then(|id| id.parse().ok())
        {
            let in_flight = serde_json::from_slice::<Heartbeat>(&message.payload)
                .ok()
                .and_then(|beat| beat.in_flight);
            engine.liveness().holding(agent, in_flight, Utc::now());
        }
    }
    let _ = subscription.unsubscribe().await;
}

/// Waits `duration`, or less when shutting down.
pub async fn pause(duration: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(duration) => {}
    }
}
