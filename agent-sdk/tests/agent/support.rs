//! A real coordinator on real servers, plans to run, and handlers scripted by the tests.

use std::future::Future;
use std::time::Duration;

use planexec_agent_sdk::{
    Agent, AgentOptions, Credentials, Handler, Identity, RegisterVia, Registration, RunReport,
    TaskAssignment, TaskContext, TaskError, Transport,
};
use planexec_coordinator::{Coordinator, Options};
use planexec_decompose::decompose_document;
use planexec_harness::TestEnv;
use planexec_schemas::command::{Command, CreateExecution, Reply, UpdateExecutionStatus};
use planexec_schemas::event::{EventSource, ExecutionEvent};
use planexec_schemas::execution::{Execution, ExecutionStatus};
use planexec_schemas::plan::{DocumentPhase, DocumentTask, PlanDocument, PlanSource};
use planexec_schemas::task::RetryPolicy;
use planexec_schemas::{Id, subjects::Namespace};
use serde_json::Value;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The operator token of the gateways tests start.
pub const OPERATOR: &str = "operator-token-for-sdk-tests-0123456789";

/// A handler made of a closure, serving the given capabilities.
pub struct Script<F> {
    pub capabilities: Vec<String>,
    pub run: F,
}

impl<F, Fut> Handler for Script<F>
where
    F: Fn(TaskAssignment, TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
{
    fn capabilities(&self) -> Vec<String> {
        self.capabilities.clone()
    }

    fn handle(
        &self,
        task: TaskAssignment,
        ctx: TaskContext,
    ) -> impl Future<Output = Result<Value, TaskError>> + Send {
        (self.run)(task, ctx)
    }
}

/// A `send_email` handler running `run`.
pub fn emailer<F, Fut>(run: F) -> Script<F>
where
    F: Fn(TaskAssignment, TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
{
    Script {
        capabilities: vec!["send_email".into()],
        run,
    }
}

/// A running agent and the means to stop it.
pub struct Running {
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<Result<RunReport, planexec_agent_sdk::Error>>,
}

impl Running {
    /// Shuts the agent down and waits for its report.
    pub async fn stop(self) -> RunReport {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .expect("the agent stops within 30 s")
            .expect("the agent task did not panic")
            .expect("the agent ran without error")
    }
}

/// Real servers, a migrated database and one coordinator.
pub struct Stack {
    pub env: TestEnv,
    pub pool: PgPool,
    pub nats: async_nats::Client,
    pub ns: Namespace,
    coordinator: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.coordinator.cancel();
    }
}

impl Stack {
    pub async fn new() -> Self {
        let env = TestEnv::start().await;
        let pool = env.pool().await;
        planexec_store::migrate(&pool)
            .await
            .expect("migrations apply");
        let options = Options {
            namespace: env.namespace.clone(),
            retry: RetryPolicy {
                max_attempts: 3,
                initial_backoff_seconds: 0.2,
                multiplier: 2.0,
                max_backoff_seconds: 2.0,
            },
            publish_grace: Duration::from_millis(500),
            ack_wait: Duration::from_secs(2),
            scheduler_interval: Duration::from_millis(50),
            liveness_flush_interval: Duration::from_millis(200),
            ..Options::default()
        };
        let coordinator = Coordinator::start(env.pool().await, env.nats().await, options)
            .await
            .expect("coordinator starts");
        let shutdown = CancellationToken::new();
        tokio::spawn(coordinator.run(shutdown.clone()));
        let nats = env.nats().await;
        let ns = env.namespace.clone();
        Self {
            env,
            pool,
            nats,
            ns,
            coordinator: shutdown,
        }
    }

    pub async fn command<C: Command>(
        &self,
        command: &C,
    ) -> Result<C::Reply, planexec_schemas::command::CommandError> {
        let payload = serde_json::to_vec(command).expect("command serialises");
        let reply = tokio::time::timeout(
            Duration::from_secs(20),
            self.nats
                .request(self.ns.command_subject(C::VERB), payload.into()),
        )
        .await
        .expect("the coordinator answers within 20 s")
        .expect("request sent");
        let reply: Reply<C::Reply> = serde_json::from_slice(&reply.payload).expect("reply parses");
        reply.into()
    }

    /// Stores a plan of one phase whose tasks are leaves of the given capabilities.
    pub async fn plan(&self, capabilities: &[&str]) -> Id {
        let tasks = capabilities
            .iter()
            .enumerate()
            .map(|(n, capability)| DocumentTask {
                key: Some(format!("t{n}")),
                title: format!("Task number {n}"),
                description: "Contact the breeders on the list.".into(),
                capability: Some((*capability).to_owned()),
                params: serde_json::json!({ "n": n }),
                duration_days: None,
                resources_needed: vec![],
                depends_on: vec![],
                timeout_seconds: None,
                max_attempts: None,
                subtasks: vec![],
            })
            .collect();
        let document = PlanDocument {
            title: "SDK test plan".into(),
            description: String::new(),
            source: PlanSource::default(),
            phases: vec![DocumentPhase {
                key: None,
                title: "Phase".into(),
                description: String::new(),
                duration_days: None,
                tasks,
            }],
        };
        let decomposition = decompose_document(document).expect("test plan decomposes");
        planexec_store::plans::insert(&self.pool, &decomposition)
            .await
            .expect("plan stored")
    }

    /// Registers an agent through the SDK (the coordinator's NATS command).
    pub async fn register(&self, name: &str, capabilities: &[&str]) -> Credentials {
        let registered = planexec_agent_sdk::register(
            &RegisterVia::Nats {
                url: self.env.nats_url.clone(),
            },
            &self.ns,
            &Registration {
                name: name.into(),
                role: "script".into(),
                capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
            },
        )
        .await
        .expect("the agent registers");
        Credentials::from(&registered)
    }

    /// Agent options for this stack, with timings fit for tests.
    pub fn options(&self, credentials: &Credentials) -> AgentOptions {
        self.options_via(credentials, &self.env.nats_url)
    }

    /// The same, connecting to NATS at `url` (a proxy, say).
    pub fn options_via(&self, credentials: &Credentials, url: &str) -> AgentOptions {
        let mut options = AgentOptions::new(
            Identity::Registered(credentials.clone()),
            Transport::Nats { url: url.into() },
        );
        options.namespace = self.ns.clone();
        options.poll_wait = Duration::from_secs(2);
        options.heartbeat_interval = Duration::from_secs(1);
        options.min_backoff = Duration::from_millis(50);
        options.max_backoff = Duration::from_millis(500);
        options.shutdown_grace = Duration::from_secs(5);
        options.publish_timeout = Duration::from_secs(1);
        options
    }

    /// Starts a gateway in front of this stack; returns its base URL.
    pub async fn gateway(&self) -> String {
        let options = planexec_gateway::GatewayOptions {
            namespace: self.ns.clone(),
            operator_token: OPERATOR.into(),
            ..planexec_gateway::GatewayOptions::default()
        };
        let state =
            planexec_gateway::AppState::new(self.pool.clone(), self.env.nats().await, options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the gateway binds a port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(planexec_gateway::serve(
            listener,
            state,
            self.coordinator.clone(),
        ));
        base
    }

    /// Agent options for an agent that works through the gateway at `gateway`.
    pub fn http_options(&self, credentials: &Credentials, gateway: &str) -> AgentOptions {
        let mut options = self.options(credentials);
        options.transport = Transport::Http {
            gateway: gateway.into(),
        };
        options
    }

    /// Starts an agent running `handler`.
    pub fn run<H: Handler>(&self, options: AgentOptions, handler: H) -> Running {
        let shutdown = CancellationToken::new();
        let agent = Agent::new(options).expect("valid options");
        let handle = tokio::spawn(agent.run(handler, shutdown.clone()));
        Running { shutdown, handle }
    }

    pub async fn execute(&self, plan: Id, agent: Id, max_parallel: u32) -> Execution {
        self.command(&CreateExecution {
            plan_id: plan,
            agent_id: agent,
            max_parallel: Some(max_parallel),
            routing: None,
        })
        .await
        .expect("execution created")
    }

    pub async fn cancel(&self, execution: Id) {
        self.command(&UpdateExecutionStatus {
            execution_id: execution,
            status: ExecutionStatus::Cancelled,
            reason: Some("the campaign was called off".into()),
        })
        .await
        .expect("cancel accepted");
    }

    pub async fn execution(&self, id: Id) -> Execution {
        planexec_store::executions::get(&self.pool, id)
            .await
            .expect("read")
            .expect("exists")
    }

    /// Waits (polling the database) until `check` holds for the execution.
    pub async fn until(&self, id: Id, what: &str, check: impl Fn(&Execution) -> bool) -> Execution {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let execution = self.execution(id).await;
            if check(&execution) {
                return execution;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "execution never became {what}: {execution:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn until_status(&self, id: Id, status: ExecutionStatus) -> Execution {
        self.until(id, status.as_str(), |e| e.status == status)
            .await
    }

    /// The execution's history, oldest first.
    pub async fn history(&self, id: Id) -> Vec<ExecutionEvent> {
        let mut events = planexec_store::events::list(
            &self.pool,
            id,
            &planexec_store::events::EventFilter::default(),
            10_000,
            0,
            None,
        )
        .await
        .expect("history");
        events.reverse();
        events
    }

    /// Waits until the history holds at least `n` events reported by agents.
    pub async fn until_agent_events(&self, id: Id, n: u64) -> Vec<ExecutionEvent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let history = self.history(id).await;
            let count = history
                .iter()
                .filter(|e| e.source == EventSource::Agent)
                .count() as u64;
            if count >= n {
                return history;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the history never held {n} agent events: {history:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `(event_type, attempt, disposition)` of one task's agent events, oldest first.
pub fn task_events(history: &[ExecutionEvent], task: Id) -> Vec<(String, u32, String)> {
    history
        .iter()
        .filter(|e| e.task_id == Some(task) && e.source == EventSource::Agent)
        .map(|e| {
            (
                e.event_type.as_str().to_owned(),
                e.attempt.unwrap_or_default(),
                e.disposition.as_str().to_owned(),
            )
        })
        .collect()
}
