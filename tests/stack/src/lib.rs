//! What the integration tests of the coordinator, the agent SDK and the simulator share: real
//! servers (from [`planexec_harness`]), a migrated database, coordinator replicas with timings
//! fit for tests, a gateway on demand, and ways to wait for an execution to get somewhere.
//!
//! Each suite wraps [`Stack`] in its own type (dereferencing to it) to add what only it needs:
//! scripted agents for the coordinator, SDK agents, Larry.

use std::time::Duration;

use planexec_coordinator::machine::RetryPolicy;
use planexec_coordinator::{Coordinator, Options};
use planexec_decompose::decompose_document;
use planexec_harness::TestEnv;
use planexec_schemas::command::{Command, CreateExecution, Reply};
use planexec_schemas::event::{EventSource, ExecutionEvent};
use planexec_schemas::execution::{Execution, ExecutionStatus, RoutingPolicy};
use planexec_schemas::plan::{DocumentPhase, DocumentTask, PlanDocument, PlanSource};
use planexec_schemas::subjects::Namespace;
use planexec_schemas::{Id, command::CommandError};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The operator token of the gateways tests start.
pub const OPERATOR: &str = "operator-token-for-tests-0123456789abcdef";

/// How long a test waits for an execution (or its history) to get where it should.
const PATIENCE: Duration = Duration::from_secs(60);

/// Options that make time pass quickly in tests.
pub fn fast_options(namespace: &Namespace) -> Options {
    Options {
        namespace: namespace.clone(),
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
    }
}

/// Real servers, a migrated database, and coordinators and gateways that stop when the stack
/// drops.
pub struct Stack {
    pub env: TestEnv,
    pub pool: PgPool,
    pub nats: async_nats::Client,
    pub ns: Namespace,
    pub options: Options,
    shutdown: CancellationToken,
    replicas: Vec<(CancellationToken, JoinHandle<()>)>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("namespace", &self.ns)
            .field("replicas", &self.replicas.len())
            .finish_non_exhaustive()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Stack {
    /// A stack with one coordinator replica running [`fast_options`].
    pub async fn new() -> Self {
        Self::with_options(|_| {}).await
    }

    /// The same, with the coordinator's options adjusted first.
    pub async fn with_options(adjust: impl FnOnce(&mut Options)) -> Self {
        let env = TestEnv::start().await;
        let pool = env.pool().await;
        planexec_store::migrate(&pool)
            .await
            .expect("migrations apply");
        let nats = env.nats().await;
        let mut options = fast_options(&env.namespace);
        adjust(&mut options);
        let mut stack = Self {
            ns: env.namespace.clone(),
            env,
            pool,
            nats,
            options,
            shutdown: CancellationToken::new(),
            replicas: Vec::new(),
        };
        stack.start_replica().await;
        stack
    }

    /// Starts one more coordinator replica with its own connections.
    pub async fn start_replica(&mut self) {
        let pool = self.env.pool().await;
        let nats = self.env.nats().await;
        let coordinator = Coordinator::start(pool, nats, self.options.clone())
            .await
            .expect("coordinator starts");
        let shutdown = self.shutdown.child_token();
        let handle = tokio::spawn(coordinator.run(shutdown.clone()));
        self.replicas.push((shutdown, handle));
    }

    /// Stops every replica, letting work in progress finish.
    pub async fn stop_replicas(&mut self) {
        for (shutdown, handle) in self.replicas.drain(..) {
            shutdown.cancel();
            let _ = handle.await;
        }
    }

    /// Sends a command to the coordinators and returns their answer.
    pub async fn command<C: Command>(&self, command: &C) -> Result<C::Reply, CommandError> {
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

    /// Starts a gateway in front of this stack (operator token [`OPERATOR`]); returns its base
    /// URL.
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
            self.shutdown.child_token(),
        ));
        base
    }

    /// Decomposes `document` and stores the plan.
    pub async fn store_plan(&self, document: PlanDocument) -> Id {
        let decomposition = decompose_document(document).expect("test plan decomposes");
        planexec_store::plans::write::insert(&self.pool, &decomposition)
            .await
            .expect("plan stored")
    }

    /// Stores a plan of one phase holding `tasks`.
    pub async fn store_tasks(&self, title: &str, tasks: Vec<DocumentTask>) -> Id {
        self.store_plan(PlanDocument {
            title: title.into(),
            description: String::new(),
            source: PlanSource::default(),
            phases: vec![DocumentPhase {
                key: None,
                title: "Phase".into(),
                description: String::new(),
                duration_days: None,
                tasks,
            }],
        })
        .await
    }

    /// Creates an execution of `plan` for `agent`.
    pub async fn create_execution(
        &self,
        plan: Id,
        agent: Id,
        max_parallel: Option<u32>,
        routing: Option<RoutingPolicy>,
    ) -> Execution {
        self.command(&CreateExecution {
            id: None,
            plan_id: plan,
            agent_id: agent,
            max_parallel,
            routing,
        })
        .await
        .expect("execution created")
    }

    pub async fn execution(&self, id: Id) -> Execution {
        planexec_store::executions::read::get(&self.pool, id)
            .await
            .expect("read")
            .expect("exists")
    }

    /// Waits (polling the database) until `check` holds for the execution.
    pub async fn until(&self, id: Id, what: &str, check: impl Fn(&Execution) -> bool) -> Execution {
        let deadline = tokio::time::Instant::now() + PATIENCE;
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
    pub async fn events(&self, id: Id) -> Vec<ExecutionEvent> {
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

    /// Waits until the history holds at least `n` events reported by agents; returns all of it.
    pub async fn until_agent_events(&self, id: Id, n: u64) -> Vec<ExecutionEvent> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let history = self.events(id).await;
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
