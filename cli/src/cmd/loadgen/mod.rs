//! `planexec loadgen`: measures a running planexec, and (with `--baseline`) what its PostgreSQL
//! and JetStream can do on their own on the same machine, so that the figures have a scale.
//!
//! The load: one plan of `--leaves` independent tasks, `--executions` executions of it spread
//! over `--agents` in-process agents (built on the public SDK, over NATS or HTTP) whose handler
//! completes at once. Closed loop creates every execution at once; open loop (`--rate`) offers a
//! fixed rate of tasks with Poisson arrivals of executions. Everything goes through the real API
//! and the real transports. Afterwards every execution's history is read back ([`verify`]): the
//! report's lost and duplicated counts come from it, and the command fails when either is not 0.

mod args;
mod baseline;
mod ideal;
mod latency;
mod report;
mod steady;
mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt;
use planexec_agent_sdk::{
    Agent, AgentOptions, Credentials, Handler, Identity, TaskContext, TaskError, Transport,
};
use planexec_schemas::api::{
    CreateExecutionRequest, ExecutionList, RegisterAgentRequest, RegisteredAgent,
};
use planexec_schemas::execution::Execution;
use planexec_schemas::plan::ImportSummary;
use planexec_schemas::subjects::Namespace;
use planexec_schemas::task::TaskAssignment;
use planexec_schemas::{Id, Timestamp};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::client::ApiClient;
pub use args::Args;
use latency::Latencies;
use report::Report;

/// Reports `progress` progress events and completes, at once; notes how long each task took to
/// arrive, and which it saw before.
struct Instant0 {
    arrivals: Latencies,
    seen: Arc<Mutex<HashMap<(Id, u32), u32>>>,
    progress: u32,
}

impl Handler for Instant0 {
    fn capabilities(&self) -> Vec<String> {
        vec!["send_email".into()]
    }

    async fn handle(&self, task: TaskAssignment, ctx: TaskContext) -> Result<Value, TaskError> {
        if let Ok(waited) = (chrono::Utc::now() - task.dispatched_at).to_std() {
            self.arrivals.record(waited);
        }
        if let Ok(mut seen) = self.seen.lock() {
            *seen.entry((task.task_id, task.attempt)).or_default() += 1;
        }
        for step in 1..=self.progress {
            // Rising, below 100: the machine keeps a task's progress from going back.
            let percent = 100.0 * f64::from(step) / f64::from(self.progress + 1);
            ctx.progress(percent, "").await;
        }
        Ok(json!({"sent": true}))
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.executions > 0 && args.leaves > 0 && args.agents > 0 && args.create_concurrency > 0,
        "every count must be at least 1"
    );
    anyhow::ensure!(
        args.rate.is_none_or(|r| r.is_finite() && r > 0.0),
        "--rate must be a positive number of tasks per second"
    );
    let namespace = Namespace::new(&args.nats_namespace).map_err(anyhow::Error::msg)?;
    if args.ideal {
        let report = ideal::run(&args).await?;
        if args.json {
            say!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            say!(
                "idealised pipeline: {} executions × {} tasks over {} agents in {:.2} s: {:.0} tasks/s",
                report.executions,
                args.leaves,
                report.agents,
                report.wall_seconds,
                report.tasks_per_second
            );
        }
        return Ok(());
    }
    let report = measure(&args, &namespace).await?;
    if args.json {
        say!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report.print();
    }
    anyhow::ensure!(
        !report.is_faulty(),
        "the history shows {} tasks lost and {} done twice",
        report.verified.tasks_lost,
        report.verified.tasks_duplicated
    );
    Ok(())
}

/// The load itself: agents, executions, the wait, then the histories read back.
async fn measure(args: &Args, namespace: &Namespace) -> anyhow::Result<Report> {
    let transport = match args.transport.as_str() {
        "http" => Transport::Http {
            gateway: args.client.gateway.clone(),
        },
        _ => Transport::Nats {
            url: args
                .nats
                .clone()
                .context("NATS agents need --nats (or PLANEXE_NATS_URL)")?,
        },
    };
    let api = ApiClient::new(&args.client.gateway, args.client.token()?)?;
    let plan = import_plan(&api, args.leaves).await?;

    let stop = CancellationToken::new();
    let handler_state = (Latencies::default(), Arc::new(Mutex::new(HashMap::new())));
    let (agents, workers) =
        start_agents(&api, args, &transport, namespace, &handler_state, &stop).await?;

    let api_latency = Latencies::default();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout);
    let (created, refused) = create_executions(&api, args, plan, &agents, &api_latency).await?;
    anyhow::ensure!(
        !created.is_empty(),
        "planexec refused every execution: {}",
        refused.first.unwrap_or_default()
    );
    let probe = tokio::spawn(probe_api(
        api.clone(),
        created[0].0,
        api_latency.clone(),
        stop.clone(),
    ));
    let (finished, timed_out) = wait_for(&api, plan, created.len(), deadline).await?;
    let wall = started.elapsed();
    stop.cancel();
    let _ = probe.await;
    for worker in workers {
        let _ = worker.await;
    }

    let completion = Latencies::default();
    let ids: Vec<Id> = created.iter().map(|(id, _)| *id).collect();
    let verified = verify::verify(&api, &ids, args.leaves, &completion).await?;
    let baseline = match (args.baseline, &args.nats) {
        (true, Some(nats)) => Some(baseline::baseline(args, nats, namespace).await?),
        (true, None) => anyhow::bail!("the baseline needs --nats (or PLANEXE_NATS_URL)"),
        _ => None,
    };
    let arrivals: Vec<_> = created.iter().map(|(_, at)| *at).collect();
    let steady = args
        .rate
        .and_then(|_| steady::steady(&arrivals, args.leaves, &verified.completed_at));
    Ok(Report::new(
        args,
        report::Measured {
            wall,
            timed_out,
            verified,
            steady,
            redeliveries: redeliveries(&handler_state),
            refused: refused.count,
            dispatch: handler_state.0.spread(),
            completion: completion.spread(),
            execution: execution_latencies(&finished).spread(),
            api: api_latency.spread(),
            baseline,
        },
    ))
}

type HandlerState = (Latencies, Arc<Mutex<HashMap<(Id, u32), u32>>>);

/// Registers `--agents` agents and runs each on its own task until `stop`.
async fn start_agents(
    api: &ApiClient,
    args: &Args,
    transport: &Transport,
    namespace: &Namespace,
    handler_state: &HandlerState,
    stop: &CancellationToken,
) -> anyhow::Result<(
    Vec<Id>,
    Vec<tokio::task::JoinHandle<Result<planexec_agent_sdk::RunReport, planexec_agent_sdk::Error>>>,
)> {
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
        let mut options = AgentOptions::new(Identity::Registered(credentials), transport.clone());
        options.namespace = namespace.clone();
        options.concurrency = args.concurrency;
        let agent = Agent::new(options)?;
        let handler = Instant0 {
            arrivals: handler_state.0.clone(),
            seen: handler_state.1.clone(),
            progress: args.progress,
        };
        workers.push(tokio::spawn(agent.run(handler, stop.clone())));
        agents.push(registered.agent.id);
    }

    Ok((agents, workers))
}

/// Each finished execution's time from its start to its end.
fn execution_latencies(finished: &[Execution]) -> Latencies {
    let latencies = Latencies::default();
    for e in finished {
        if let (Some(end), Some(start)) = (e.finished_at, e.started_at)
            && let Ok(took) = (end - start).to_std()
        {
            latencies.record(took);
        }
    }
    latencies
}

/// Deliveries of an attempt the agents had handled already.
fn redeliveries(state: &HandlerState) -> u64 {
    state
        .1
        .lock()
        .map(|seen| seen.values().map(|n| u64::from(n - 1)).sum())
        .unwrap_or_default()
}

/// The load's plan: `leaves` independent tasks of one capability.
async fn import_plan(api: &ApiClient, leaves: usize) -> anyhow::Result<Id> {
    let tasks: Vec<Value> = (0..leaves)
        .map(|t| json!({"title": format!("Send email {t}"), "description": "Send one email.", "capability": "send_email"}))
        .collect();
    let document = json!({"title": "loadgen", "phases": [{"title": "Emails", "tasks": tasks}]});
    let summary: ImportSummary = api.post("/api/plans", &document).await?;
    summary.id.context("the import returned no plan id")
}

/// Creations planexec answered with an error in open loop: an overloaded system may refuse
/// work (503 when the coordinators do not answer in time), and an open-loop load goes on.
#[derive(Debug, Default)]
struct Refused {
    count: usize,
    /// The first refusal's error.
    first: Option<String>,
}

/// Creates the executions: all at once (`--create-concurrency` requests in flight; any error
/// ends the run), or with `--rate` one at a time at exponentially distributed intervals, each
/// request on its own so that a slow answer does not lower the offered rate (an error is
/// counted as refused). Returns each created one's id and `created_at`.
async fn create_executions(
    api: &ApiClient,
    args: &Args,
    plan: Id,
    agents: &[Id],
    latency: &Latencies,
) -> anyhow::Result<(Vec<(Id, Timestamp)>, Refused)> {
    let create = |n: usize| {
        let api = api.clone();
        let latency = latency.clone();
        let request = CreateExecutionRequest {
            plan_id: plan,
            agent_id: agents[n % agents.len()],
            max_parallel: Some(args.max_parallel),
            routing: None,
        };
        async move {
            let asked = Instant::now();
            let created = api.post::<_, Execution>("/api/executions", &request).await;
            latency.record(asked.elapsed());
            created.map(|e| (e.id, e.created_at))
        }
    };
    let Some(rate) = args.rate else {
        return futures::stream::iter(0..args.executions)
            .map(create)
            .buffer_unordered(args.create_concurrency)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()
            .map(|ids| (ids, Refused::default()));
    };
    let per_second = rate / args.leaves as f64;
    let mut requests = Vec::with_capacity(args.executions);
    let mut next = Instant::now();
    for n in 0..args.executions {
        tokio::time::sleep_until(next.into()).await;
        requests.push(tokio::spawn(create(n)));
        let uniform: f64 = rand::random_range(f64::MIN_POSITIVE..1.0);
        next += Duration::from_secs_f64(-uniform.ln() / per_second);
    }
    let mut ids = Vec::with_capacity(requests.len());
    let mut refused = Refused::default();
    for request in requests {
        match request.await? {
            Ok(id) => ids.push(id),
            Err(e) => {
                refused.count += 1;
                refused.first.get_or_insert_with(|| e.to_string());
            }
        }
    }
    if let Some(first) = &refused.first {
        eprintln!(
            "loadgen: planexec refused {} of {} executions; the first: {first}",
            refused.count, args.executions
        );
    }
    Ok((ids, refused))
}

/// Reads one execution every 100 ms while the load runs: what an operator's page sees.
async fn probe_api(api: ApiClient, execution: Id, latency: Latencies, stop: CancellationToken) {
    let path = format!("/api/executions/{execution}");
    while !stop.is_cancelled() {
        let asked = Instant::now();
        if api.get::<Execution>(&path).await.is_ok() {
            latency.record(asked.elapsed());
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Waits until `expected` executions of the plan are COMPLETED, or the deadline; a progress bar
/// on a terminal. Returns them and whether the deadline came first.
async fn wait_for(
    api: &ApiClient,
    plan: Id,
    expected: usize,
    deadline: Instant,
) -> anyhow::Result<(Vec<Execution>, bool)> {
    let bar = indicatif::ProgressBar::new(expected as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} executions completed",
        )
        .expect("a valid template"),
    );
    // Listing every completed execution costs more as they grow: look less often then.
    let pause = Duration::from_millis(100).max(Duration::from_micros(50 * expected as u64));
    loop {
        // A busy gateway's failed answer is tried again rather than ending the run.
        let done = verify::retry(|| completed(api, plan)).await?;
        bar.set_position(done.len() as u64);
        if done.len() >= expected {
            bar.finish_and_clear();
            return Ok((done, false));
        }
        if Instant::now() >= deadline {
            bar.abandon();
            return Ok((done, true));
        }
        tokio::time::sleep(pause).await;
    }
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
