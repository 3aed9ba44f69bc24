//! What PostgreSQL and JetStream do on their own on the same machine: the scale of loadgen's
//! figures (single-row commits, batched rows, JetStream publishes and consume+acks).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt;
use planexec_schemas::Id;
use planexec_schemas::subjects::Namespace;
use serde::Serialize;
use serde_json::{Value, json};

use super::args::Args;

#[derive(Debug, Serialize)]
pub struct Baseline {
    pub postgres_single_row_commits_per_second: f64,
    pub postgres_batched_rows_per_second: f64,
    pub jetstream_publish_per_second: f64,
    pub jetstream_consume_ack_per_second: f64,
}

/// What PostgreSQL and JetStream do on their own here, for scale.
pub async fn baseline(
    args: &Args,
    nats_url: &str,
    namespace: &Namespace,
) -> anyhow::Result<Baseline> {
    use sqlx::Connection;
    let url = args
        .database_url
        .clone()
        .context("the baseline needs --database-url (or PLANEXE_DATABASE_URL)")?;
    let mut db = sqlx::PgConnection::connect(&url).await?;
    // A regular table, not a temporary one: PostgreSQL writes no WAL for temporary tables and so
    // does not flush at commit, which would measure a database that keeps nothing.
    sqlx::query("DROP TABLE IF EXISTS planexec_loadgen_baseline")
        .execute(&mut db)
        .await?;
    sqlx::query(
        "CREATE TABLE planexec_loadgen_baseline (id uuid PRIMARY KEY, payload jsonb NOT NULL)",
    )
    .execute(&mut db)
    .await?;
    let measured = postgres_baseline(&mut db).await;
    sqlx::query("DROP TABLE planexec_loadgen_baseline")
        .execute(&mut db)
        .await?;
    let (single, batched) = measured?;

    let nats = async_nats::connect(planexec_schemas::subjects::nats_servers(nats_url)).await?;
    let js = async_nats::jetstream::new(nats);
    let stream_name = format!(
        "{}_LOADGEN",
        namespace.prefix().to_ascii_uppercase().replace('-', "_")
    );
    let subject = format!("{}.loadgen", namespace.prefix());
    let _ = js.delete_stream(&stream_name).await;
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: stream_name.clone(),
            subjects: vec![subject.clone()],
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("creating the benchmark stream: {e}"))?;
    let messages = 20_000usize;
    let payload = bytes::Bytes::from(serde_json::to_vec(
        &json!({"event_type": "task_complete", "output": {}}),
    )?);
    let start = Instant::now();
    let mut pending = futures::stream::FuturesUnordered::new();
    for _ in 0..messages {
        if pending.len() >= 1000
            && let Some(acked) = pending.next().await
        {
            let acked: Result<_, async_nats::jetstream::context::PublishError> = acked;
            acked.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let ack = js
            .publish(subject.clone(), payload.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        pending.push(std::future::IntoFuture::into_future(ack));
    }
    while let Some(ack) = pending.next().await {
        ack.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let publish = messages as f64 / start.elapsed().as_secs_f64();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("loadgen".into()),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: 10_000,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let start = Instant::now();
    let mut stream_of = consumer
        .messages()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut consumed = 0usize;
    while consumed < messages {
        let Some(message) = stream_of.next().await else {
            break;
        };
        message
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .ack()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        consumed += 1;
    }
    let consume = consumed as f64 / start.elapsed().as_secs_f64();
    let _ = js.delete_stream(&stream_name).await;
    Ok(Baseline {
        postgres_single_row_commits_per_second: single,
        postgres_batched_rows_per_second: batched,
        jetstream_publish_per_second: publish,
        jetstream_consume_ack_per_second: consume,
    })
}

/// Single-row commits per second, then rows per second in transactions of 256, each for
/// three seconds, into `planexec_loadgen_baseline`.
async fn postgres_baseline(db: &mut sqlx::PgConnection) -> anyhow::Result<(f64, f64)> {
    use sqlx::Connection;
    let window = Duration::from_secs(3);
    let start = Instant::now();
    let mut commits = 0u64;
    while start.elapsed() < window {
        let mut tx = db.begin().await?;
        sqlx::query("INSERT INTO planexec_loadgen_baseline VALUES ($1, $2)")
            .bind(planexec_schemas::new_id())
            .bind(json!({"event_type": "task_complete"}))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        commits += 1;
    }
    let single = commits as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut rows = 0u64;
    while start.elapsed() < window {
        let ids: Vec<Id> = (0..256).map(|_| planexec_schemas::new_id()).collect();
        let payloads: Vec<Value> = (0..256)
            .map(|_| json!({"event_type": "task_complete"}))
            .collect();
        let mut tx = db.begin().await?;
        sqlx::query(
            "INSERT INTO planexec_loadgen_baseline SELECT * FROM UNNEST($1::uuid[], $2::jsonb[])",
        )
        .bind(&ids)
        .bind(&payloads)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        rows += 256;
    }
    let batched = rows as f64 / start.elapsed().as_secs_f64();
    Ok((single, batched))
}
