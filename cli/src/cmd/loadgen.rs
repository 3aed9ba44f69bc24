//! `planexec loadgen`: measures a running planexec, and (with `--baseline`) what its PostgreSQL
//! and JetStream can do on their own on the same machine, so that the figures have a scale.
//!
//! The load: one plan of `--leaves` independent tasks, `--executions` executions of it spread
//! over `--agents` in-process agents (built on the public SDK) whose handler completes at once.
//! Everything goes through the real API and the real NATS transport.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt;
use planexec_agent_sdk::{
    Agent, AgentOptions, Credentials, Handler, Identity, TaskContext, TaskError, Transport,
};
use planexec_schemas::Id;
use planexec_schemas::api::{
    CreateExecutionRequest, ExecutionList, RegisterAgentRequest, RegisteredAgent,
};
use planexec_schemas::execution::Execution;
use planexec_schemas::plan::ImportSummary;
use planexec_schemas::subjects::Namespace;
use planexec_schemas::task::TaskAssignment;
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::client::ApiClient;
use crate::settings::ClientArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub client: ClientArgs,
    /// NATS of the running planexec (the agents use it).
    #[arg(long, env = "PLANEXE_NATS_URL")]
    pub nats: Option<String>,
    #[arg(long, env = "PLANEXE_NATS_NAMESPACE", default_value = "planexec")]
    pub nats_namespace: String,
    /// Executions to run at once.
    #[arg(long, default_value_t = 50)]
    pub executions: usize,
    /// Tasks per execution.
    #[arg(long, default_value_t = 20)]
    pub leaves: usize,
    /// In-process agents.
    #[arg(long, default_value_t = 4)]
    pub agents: usize,
    /// Tasks each agent works on at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Tasks of one execution in flight at once (1: strict order).
    #[arg(long, default_value_t = 1)]
    pub max_parallel: u32,
    /// Also measure PostgreSQL and JetStream on their own.
    #[arg(long)]
    pub baseline: bool,
    /// The database, for the baseline.
    #[arg(long, env = "PLANEXE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Percentiles of a sample, in milliseconds.
#[derive(Debug, Serialize)]
struct Spread {
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
}

impl Spread {
    fn of(mut sample: Vec<Duration>) -> Option<Self> {
        if sample.is_empty() {
            return None;
        }
        sample.sort();
        let at = |q: f64| {
            sample[((sample.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
        };
        Some(Self {
            p50: at(0.5),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        })
    }
}

#[derive(Debug, Serialize)]
struct Report {
    executions: usize,
    tasks: usize,
    agents: usize,
    wall_seconds: f64,
    tasks_per_second: f64,
    /// Agent events recorded per second (each task: started + complete).
    agent_events_per_second: f64,
    /// From a dispatch's commit to the agent holding the assignment.
    dispatch_to_agent_ms: Option<Spread>,
    /// One execution from its first dispatch to its completion.
    execution_ms: Option<Spread>,
    baseline: Option<Baseline>,
}

#[derive(Debug, Serialize)]
struct Baseline {
    postgres_single_row_commits_per_second: f64,
    postgres_batched_rows_per_second: f64,
    jetstream_publish_per_second: f64,
    jetstream_consume_ack_per_second: f64,
}

/// Completes every task at once and notes how long it took to arrive.
struct Instant0 {
    arrivals: Arc<Mutex<Vec<Duration>>>,
}

impl Handler for Instant0 {
    fn capabilities(&self) -> Vec<String> {
        vec!["send_email".into()]
    }

    async fn handle(&self, task: TaskAssignment, _ctx: TaskContext) -> Result<Value, TaskError> {
        if let (Ok(waited), Ok(mut arrivals)) = (
            (chrono::Utc::now() - task.dispatched_at).to_std(),
            self.arrivals.lock(),
        ) {
            arrivals.push(waited);
        }
        Ok(json!({"sent": true}))
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.executions > 0 && args.leaves > 0 && args.agents > 0,
        "every count must be at least 1"
    );
    let nats_url = args
        .nats
        .clone()
        .context("the agents need --nats (or PLANEXE_NATS_URL)")?;
    let namespace = Namespace::new(&args.nats_namespace).map_err(anyhow::Error::msg)?;
    let api = ApiClient::new(&args.client.gateway, args.client.token()?)?;

    let tasks: Vec<Value> = (0..args.leaves)
        .map(|t| json!({"title": format!("Send email {t}"), "description": "Send one email.", "capability": "send_email"}))
        .collect();
    let document = json!({"title": "loadgen", "phases": [{"title": "Emails", "tasks": tasks}]});
    let summary: ImportSummary = api.post("/api/plans", &document).await?;
    let plan = summary.id.context("the import returned no plan id")?;

    let stop = CancellationToken::new();
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let mut agents = Vec::new();
    let mut workers = Vec::new();
    for n in 0..args.agents {
        let request = RegisterAgentRequest {
            name: format!("loadgen-{n}"),
            role: "script".into(),
            capabilities: vec!["send_email".into()],
        };
        let registered: RegisteredAgent = api.post("/api/agents", &request).await?;
        let credentials = Credentials {
            agent_id: registered.agent.id,
            token: registered.token.clone(),
        };
        let mut options = AgentOptions::new(
            Identity::Registered(credentials),
            Transport::Nats {
                url: nats_url.clone(),
            },
        );
        options.namespace = namespace.clone();
        options.concurrency = args.concurrency;
        let agent = Agent::new(options)?;
        let handler = Instant0 {
            arrivals: arrivals.clone(),
        };
        workers.push(tokio::spawn(agent.run(handler, stop.clone())));
        agents.push(registered.agent.id);
    }

    let started = Instant::now();
    let created: Vec<Id> = futures::stream::iter(0..args.executions)
        .map(|n| {
            let api = api.clone();
            let request = CreateExecutionRequest {
                plan_id: plan,
                agent_id: agents[n % agents.len()],
                max_parallel: Some(args.max_parallel),
                routing: None,
            };
            async move {
                api.post::<_, Execution>("/api/executions", &request)
                    .await
                    .map(|e| e.id)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let finished = loop {
        let done = completed(&api, plan).await?;
        if done.len() >= created.len() {
            break done;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let wall = started.elapsed();
    stop.cancel();
    for worker in workers {
        let _ = worker.await;
    }

    let tasks = args.executions * args.leaves;
    let executions: Vec<Duration> = finished
        .iter()
        .filter_map(|e| (e.finished_at? - e.started_at?).to_std().ok())
        .collect();
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let baseline = if args.baseline {
        Some(baseline(&args, &nats_url, &namespace).await?)
    } else {
        None
    };
    let report = Report {
        executions: args.executions,
        tasks,
        agents: args.agents,
        wall_seconds: wall.as_secs_f64(),
        tasks_per_second: tasks as f64 / wall.as_secs_f64(),
        agent_events_per_second: (2 * tasks) as f64 / wall.as_secs_f64(),
        dispatch_to_agent_ms: Spread::of(arrivals),
        execution_ms: Spread::of(executions),
        baseline,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(())
}

/// Every COMPLETED execution of the plan.
async fn completed(api: &ApiClient, plan: Id) -> anyhow::Result<Vec<Execution>> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/executions?plan_id={plan}&status=COMPLETED&limit=500");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: ExecutionList = api.get(&path).await?;
        all.extend(page.executions);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// What PostgreSQL and JetStream do on their own here, for scale.
async fn baseline(args: &Args, nats_url: &str, namespace: &Namespace) -> anyhow::Result<Baseline> {
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

fn print(report: &Report) {
    println!(
        "{} executions × {} tasks = {} tasks over {} agents in {:.2} s",
        report.executions,
        report.tasks / report.executions.max(1),
        report.tasks,
        report.agents,
        report.wall_seconds
    );
    println!(
        "  throughput        {:.0} tasks/s ({:.0} agent events/s)",
        report.tasks_per_second, report.agent_events_per_second
    );
    let spread = |name: &str, s: &Option<Spread>| {
        if let Some(s) = s {
            println!(
                "  {name:<17} p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                s.p50, s.p95, s.p99, s.max
            );
        }
    };
    spread("dispatch→agent", &report.dispatch_to_agent_ms);
    spread("execution", &report.execution_ms);
    if let Some(b) = &report.baseline {
        println!("  baseline on this machine:");
        println!(
            "    PostgreSQL  {:.0} single-row commits/s, {:.0} rows/s in 256-row transactions",
            b.postgres_single_row_commits_per_second, b.postgres_batched_rows_per_second
        );
        println!(
            "    JetStream   {:.0} publishes/s (acks awaited, ≤1000 pending), {:.0} consume+ack/s",
            b.jetstream_publish_per_second, b.jetstream_consume_ack_per_second
        );
    }
}
