//! The idealised pipeline of planexec's architecture, with no product logic: the limit that
//! loadgen's figures are compared with, on the same servers in the same run.
//!
//! Executions have `--leaves` tasks, `--max-parallel` of them in flight (1: a strict chain). A task
//! is published to a JetStream work stream; an agent pulls it and publishes three durable events
//! (started, progress, complete; `--progress` adds as many progress events as planexec's agents
//! then report) to an events stream; one consumer pulls the events in batches of
//! up to 256, inserts them into PostgreSQL in one transaction, commits, acknowledges them, and
//! for each completion publishes the execution's next task. That is every step planexec cannot do
//! without (durable dispatch, durable events, a batched commit before the ack), and nothing else.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use futures::future::try_join_all;
use serde::{Deserialize, Serialize};
use sqlx::Connection;

use super::args::Args;

/// Events applied in one transaction at most, as `PLANEXE_BATCH_SIZE`'s default.
const BATCH: usize = 256;

#[derive(Debug, Serialize)]
pub struct IdealReport {
    pub executions: usize,
    pub tasks: usize,
    pub agents: usize,
    pub leaves: usize,
    pub max_parallel: u32,
    pub progress_per_task: u32,
    pub wall_seconds: f64,
    pub tasks_per_second: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Step {
    execution: u32,
    task: u32,
    kind: u8,
}

/// Runs the pipeline; the servers are `--database-url` and `--nats`.
pub async fn run(args: &Args) -> anyhow::Result<IdealReport> {
    let url = args
        .database_url
        .clone()
        .context("--ideal needs --database-url (or PLANEXE_DATABASE_URL)")?;
    let nats_url = args
        .nats
        .clone()
        .context("--ideal needs --nats (or PLANEXE_NATS_URL)")?;
    let mut db = sqlx::PgConnection::connect(&url).await?;
    let mut lanes = Vec::new();
    for _ in 0..args.lanes.max(1) {
        lanes.push(sqlx::PgConnection::connect(&url).await?);
    }
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS planexec_ideal_events;
         CREATE TABLE planexec_ideal_events (id bigserial PRIMARY KEY, execution int NOT NULL,
           task int NOT NULL, kind smallint NOT NULL, payload jsonb NOT NULL)",
    )
    .execute(&mut db)
    .await?;
    let nats = async_nats::connect(planexec_schemas::subjects::nats_servers(&nats_url)).await?;
    let js = jetstream::new(nats);
    let prefix = format!("{}.ideal", args.nats_namespace);
    let name = args.nats_namespace.to_ascii_uppercase().replace('-', "_");
    let (tasks_stream, events_stream) = (
        format!("{name}_IDEAL_TASKS"),
        format!("{name}_IDEAL_EVENTS"),
    );
    for (stream_name, subject, work_queue) in [
        (&tasks_stream, format!("{prefix}.tasks.>"), true),
        (&events_stream, format!("{prefix}.events"), false),
    ] {
        let _ = js.delete_stream(stream_name).await;
        js.create_stream(stream::Config {
            name: stream_name.clone(),
            subjects: vec![subject],
            storage: stream::StorageType::File,
            retention: if work_queue {
                stream::RetentionPolicy::WorkQueue
            } else {
                stream::RetentionPolicy::Limits
            },
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("creating {stream_name}: {e}"))?;
    }

    let started = Instant::now();
    let mut agents = Vec::new();
    for agent in 0..args.agents {
        agents.push(tokio::spawn(run_agent(
            js.clone(),
            tasks_stream.clone(),
            prefix.clone(),
            agent,
            args.concurrency,
            args.progress,
        )));
    }
    let window = (args.max_parallel as usize).clamp(1, args.leaves) as u32;
    let first: Vec<_> = (0..args.executions as u32)
        .flat_map(|execution| (0..window).map(move |task| (execution, task)))
        .map(|(execution, task)| dispatch(&js, &prefix, args.agents, execution, task))
        .collect();
    try_join_all(first).await?;
    let completed = AtomicUsize::new(0);
    let applied = try_join_all(
        lanes
            .iter_mut()
            .map(|lane| apply_events(&js, &events_stream, &prefix, lane, args, &completed)),
    )
    .await;
    let wall = started.elapsed();
    for agent in agents {
        agent.abort();
    }
    let _ = js.delete_stream(&tasks_stream).await;
    let _ = js.delete_stream(&events_stream).await;
    sqlx::query("DROP TABLE planexec_ideal_events")
        .execute(&mut db)
        .await?;
    applied?;
    let tasks = args.executions * args.leaves;
    Ok(IdealReport {
        executions: args.executions,
        tasks,
        agents: args.agents,
        leaves: args.leaves,
        max_parallel: args.max_parallel,
        progress_per_task: args.progress,
        wall_seconds: wall.as_secs_f64(),
        tasks_per_second: tasks as f64 / wall.as_secs_f64(),
    })
}

/// Publishes a task to its agent's subject and waits for JetStream's acknowledgement.
async fn dispatch(
    js: &jetstream::Context,
    prefix: &str,
    agents: usize,
    execution: u32,
    task: u32,
) -> anyhow::Result<()> {
    let step = Step {
        execution,
        task,
        kind: 0,
    };
    let subject = format!("{prefix}.tasks.{}", execution as usize % agents);
    js.publish(subject, serde_json::to_vec(&step)?.into())
        .await?
        .await
        .map_err(|e| anyhow::anyhow!("dispatch: {e}"))?;
    Ok(())
}

/// An agent: pulls its tasks, reports three durable events for each (and `progress` more
/// progress events, one per report of planexec's agents), then acknowledges it.
async fn run_agent(
    js: jetstream::Context,
    stream_name: String,
    prefix: String,
    agent: usize,
    concurrency: usize,
    progress: u32,
) -> anyhow::Result<()> {
    let stream = js.get_stream(&stream_name).await?;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(format!("agent-{agent}")),
            filter_subject: format!("{prefix}.tasks.{agent}"),
            ack_policy: consumer::AckPolicy::Explicit,
            max_ack_pending: concurrency as i64,
            ..Default::default()
        })
        .await?;
    let messages = consumer.messages().await?;
    messages
        .for_each_concurrent(concurrency, |message| {
            let js = js.clone();
            let events = format!("{prefix}.events");
            async move {
                let Ok(message) = message else { return };
                let Ok(step) = serde_json::from_slice::<Step>(&message.payload) else {
                    return;
                };
                let progress = std::iter::repeat_n(2, 1 + progress as usize);
                for kind in std::iter::once(1).chain(progress).chain(std::iter::once(3)) {
                    let event = Step { kind, ..step };
                    let Ok(bytes) = serde_json::to_vec(&event) else {
                        return;
                    };
                    let Ok(ack) = js.publish(events.clone(), bytes.into()).await else {
                        return;
                    };
                    if ack.await.is_err() {
                        return;
                    }
                }
                let _ = message.ack().await;
            }
        })
        .await;
    Ok(())
}

/// The coordinator's part, one lane (its own connection) of `--lanes` pulling from the one
/// consumer: batches of events into PostgreSQL, one transaction each, acknowledged after the
/// commit; each completion dispatches the execution's next task (the one `window`
/// further on). Returns when every task of every execution is complete.
async fn apply_events(
    js: &jetstream::Context,
    stream_name: &str,
    prefix: &str,
    db: &mut sqlx::PgConnection,
    args: &Args,
    completed: &AtomicUsize,
) -> anyhow::Result<()> {
    let stream = js.get_stream(stream_name).await?;
    let consumer = stream
        .get_or_create_consumer(
            "coordinator",
            consumer::pull::Config {
                durable_name: Some("coordinator".into()),
                ack_policy: consumer::AckPolicy::Explicit,
                max_ack_pending: 4096,
                ..Default::default()
            },
        )
        .await?;
    let total = args.executions * args.leaves;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    while completed.load(Ordering::Relaxed) < total {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the idealised pipeline timed out"
        );
        let mut batch = consumer
            .fetch()
            .max_messages(BATCH)
            .expires(Duration::from_millis(50))
            .messages()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut messages = Vec::new();
        while let Some(message) = batch.next().await {
            messages.push(message.map_err(|e| anyhow::anyhow!("{e}"))?);
        }
        if messages.is_empty() {
            continue;
        }
        let steps: Vec<Step> = messages
            .iter()
            .map(|m| serde_json::from_slice(&m.payload))
            .collect::<Result<_, _>>()?;
        let mut tx = db.begin().await?;
        sqlx::query(
            "INSERT INTO planexec_ideal_events (execution, task, kind, payload)
             SELECT * FROM UNNEST($1::int[], $2::int[], $3::smallint[], $4::jsonb[])",
        )
        .bind(steps.iter().map(|s| s.execution as i32).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| s.task as i32).collect::<Vec<_>>())
        .bind(steps.iter().map(|s| i16::from(s.kind)).collect::<Vec<_>>())
        .bind(
            steps
                .iter()
                .map(|s| serde_json::json!({"output": {"sent": true}, "kind": s.kind}))
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        try_join_all(messages.iter().map(|m| m.ack()))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let window = (args.max_parallel as usize).clamp(1, args.leaves);
        let next: Vec<_> = steps
            .iter()
            .filter(|s| s.kind == 3 && s.task as usize + window < args.leaves)
            .map(|s| dispatch(js, prefix, args.agents, s.execution, s.task + window as u32))
            .collect();
        completed.fetch_add(
            steps.iter().filter(|s| s.kind == 3).count(),
            Ordering::Relaxed,
        );
        try_join_all(next).await?;
    }
    Ok(())
}
