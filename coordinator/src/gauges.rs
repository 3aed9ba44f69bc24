//! The gauges: executions and agents by status, busy agents, unconfirmed dispatches and the
//! ingest lag (events in the stream not yet handed to a coordinator), sampled every few seconds
//! from the database and JetStream. Every replica reports the same figures; aggregate them with
//! `max`, not `sum`.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use metrics::gauge;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How often the gauges are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Samples until `shutdown`.
pub async fn run(pool: PgPool, consumer: PullConsumer, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = sample(&pool, &consumer).await {
            tracing::debug!(error = %e, "gauges not sampled");
        }
    }
}

/// One sample of every gauge.
pub async fn sample(pool: &PgPool, consumer: &PullConsumer) -> Result<(), crate::Error> {
    let mut conn = pool.acquire().await?;
    let figures = planexec_store::metrics::gauges(&mut conn).await?;
    drop(conn);
    for (status, count) in figures.executions {
        gauge!("planexec_executions", "status" => status).set(count as f64);
    }
    for (status, count) in figures.agents {
        gauge!("planexec_agents", "status" => status).set(count as f64);
    }
    gauge!("planexec_agents_busy").set(figures.busy_agents as f64);
    gauge!("planexec_dispatches_unconfirmed").set(figures.unconfirmed_dispatches as f64);
    match consumer.get_info().await {
        Ok(info) => {
            gauge!("planexec_ingest_pending_events").set(info.num_pending as f64);
            gauge!("planexec_ingest_unacked_events").set(info.num_ack_pending as f64);
        }
        Err(e) => tracing::debug!(error = %e, "the events consumer's lag is unknown"),
    }
    Ok(())
}
