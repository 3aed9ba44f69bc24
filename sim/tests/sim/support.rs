//! A real coordinator on real servers and a plan that needs every one of Larry's skills.

use std::time::Duration;

use planexec_coordinator::{Coordinator, Options};
use planexec_decompose::decompose_document;
use planexec_harness::TestEnv;
use planexec_schemas::command::{ApprovePlan, Command, CreateExecution, Reply};
use planexec_schemas::event::{EventSource, ExecutionEvent};
use planexec_schemas::execution::{Execution, ExecutionStatus};
use planexec_schemas::plan::{
    DocumentDependency, DocumentPhase, DocumentSubtask, DocumentTask, PlanDocument, PlanSource,
};
use planexec_schemas::task::RetryPolicy;
use planexec_schemas::{Id, subjects::Namespace};
use planexec_sim::SimOptions;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// The operator token of the gateways tests start.
pub const OPERATOR: &str = "operator-token-for-sim-tests-0123456789";

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
                max_attempts: 10,
                initial_backoff_seconds: 0.1,
                multiplier: 2.0,
                max_backoff_seconds: 0.5,
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

    /// Simulator options for this stack: fast, seeded, with `human_review` among the skills.
    pub fn sim_options(&self) -> SimOptions {
        let mut options = SimOptions {
            nats_url: Some(self.env.nats_url.clone()),
            namespace: self.ns.clone(),
            time_scale: 0.0001,
            seed: Some(7),
            poll_wait: Some(Duration::from_secs(2)),
            heartbeat_interval: Some(Duration::from_secs(1)),
            shutdown_grace: Some(Duration::from_secs(5)),
            ..SimOptions::default()
        };
        options.capabilities.push("human_review".into());
        options
    }

    /// A plan to find a Labrador breeder: two phases, subtasks, dependencies, every capability.
    ///
    /// Dependencies name leaf tasks only: with parallel dispatch the coordinator does not yet
    /// release a task that waits for a task with subtasks (it settles parents after dispatch).
    pub async fn breeder_plan(&self) -> Id {
        let leaf = |key: &str, title: &str, capability: &str, depends_on: &[&str]| DocumentTask {
            key: Some(key.into()),
            title: title.into(),
            description: format!("{title}, as part of finding a Labrador puppy."),
            capability: Some(capability.into()),
            params: serde_json::Value::Null,
            duration_days: None,
            resources_needed: vec![],
            depends_on: depends_on
                .iter()
                .map(|k| DocumentDependency {
                    key: (*k).into(),
                    explanation: None,
                })
                .collect(),
            timeout_seconds: None,
            max_attempts: None,
            subtasks: vec![],
        };
        let subtask = |title: &str, capability: &str| DocumentSubtask {
            key: None,
            title: title.into(),
            description: title.into(),
            capability: Some(capability.into()),
            params: serde_json::Value::Null,
            resources_needed: vec![],
            timeout_seconds: None,
            max_attempts: None,
        };
        let mut contact = leaf("contact", "Contact the breeders", "send_email", &["search"]);
        contact.capability = None;
        contact.subtasks = vec![
            subtask("Email the breeders", "send_email"),
            subtask("Call the breeders who did not answer", "make_phone_call"),
        ];
        let mut write_up = leaf(
            "write",
            "Write up what was learned",
            "draft_document",
            &["interview"],
        );
        write_up.capability = None;
        write_up.subtasks = vec![
            subtask("Document the findings", "document_findings"),
            subtask("Draft the recommendation", "draft_document"),
        ];
        let document = PlanDocument {
            title: "Find a Labrador breeder".into(),
            description: String::new(),
            source: PlanSource::default(),
            phases: vec![
                DocumentPhase {
                    key: None,
                    title: "Find breeders".into(),
                    description: String::new(),
                    duration_days: None,
                    tasks: vec![
                        leaf(
                            "search",
                            "Search for Labrador breeders nearby",
                            "search_google_maps",
                            &[],
                        ),
                        contact,
                        leaf(
                            "list",
                            "Keep the contact list up to date",
                            "manage_csv",
                            &[],
                        ),
                    ],
                },
                DocumentPhase {
                    key: None,
                    title: "Decide".into(),
                    description: String::new(),
                    duration_days: None,
                    tasks: vec![
                        leaf(
                            "interview",
                            "Interview the most promising breeder",
                            "conduct_interview",
                            &["search"],
                        ),
                        write_up,
                        leaf(
                            "visit",
                            "Book a visit to the kennel",
                            "schedule_calendar_event",
                            &[],
                        ),
                        leaf("sign", "Sign off the choice", "human_review", &["visit"]),
                    ],
                },
            ],
        };
        let decomposition = decompose_document(document).expect("the plan decomposes");
        let plan = planexec_store::plans::insert(&self.pool, &decomposition)
            .await
            .expect("plan stored");
        // A human_review leaf may send the plan to review; approving it is the operator's part.
        self.command(&ApprovePlan { plan_id: plan })
            .await
            .expect("plan approved");
        plan
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

    pub async fn execution(&self, id: Id) -> Execution {
        planexec_store::executions::get(&self.pool, id)
            .await
            .expect("read")
            .expect("exists")
    }

    pub async fn until(&self, id: Id, what: &str, check: impl Fn(&Execution) -> bool) -> Execution {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
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

    /// The agents' events in the execution's history, oldest first, once there are `n`.
    pub async fn agent_history(&self, id: Id, n: u64) -> Vec<ExecutionEvent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
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
            events.retain(|e| e.source == EventSource::Agent);
            if events.len() as u64 >= n {
                return events;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the history never held {n} agent events"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn until_status(&self, id: Id, status: ExecutionStatus) -> Execution {
        self.until(id, status.as_str(), |e| e.status == status)
            .await
    }
}
