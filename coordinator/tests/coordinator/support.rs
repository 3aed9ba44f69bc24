//! A coordinator on real servers, plans to run, and agents scripted from the test.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::PublishMessage;
use futures::StreamExt;
use planexec_coordinator::{Coordinator, Options};
use planexec_decompose::decompose_document;
use planexec_harness::TestEnv;
use planexec_schemas::command::{Command, CreateExecution, RegisterAgent, Reply};
use planexec_schemas::event::{AgentEvent, AgentEventBody};
use planexec_schemas::execution::{Execution, ExecutionStatus, RoutingPolicy};
use planexec_schemas::plan::{
    DocumentPhase, DocumentSubtask, DocumentTask, PlanDocument, PlanSource,
};
use planexec_schemas::subjects::Namespace;
use planexec_schemas::task::{AgentMessage, RetryPolicy, TaskAssignment};
use planexec_schemas::{Id, new_id};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

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

/// Real servers, a migrated database and coordinators that stop when the stack drops.
pub struct Stack {
    pub env: TestEnv,
    pub pool: PgPool,
    pub nats: async_nats::Client,
    pub options: Options,
    replicas: Vec<(CancellationToken, tokio::task::JoinHandle<()>)>,
}

impl Stack {
    pub async fn new() -> Self {
        Self::with_options(|_| {}).await
    }

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
            env,
            pool,
            nats,
            options,
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
        let shutdown = CancellationToken::new();
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

    pub fn ns(&self) -> &Namespace {
        &self.options.namespace
    }

    pub async fn command<C: Command>(
        &self,
        command: &C,
    ) -> Result<C::Reply, planexec_schemas::command::CommandError> {
        let payload = serde_json::to_vec(command).expect("command serialises");
        let reply = tokio::time::timeout(
            Duration::from_secs(20),
            self.nats
                .request(self.ns().command_subject(C::VERB), payload.into()),
        )
        .await
        .expect("the coordinator answers within 20 s")
        .expect("request sent");
        let reply: Reply<C::Reply> = serde_json::from_slice(&reply.payload).expect("reply parses");
        reply.into()
    }

    /// Stores a plan of tasks given by their number of subtasks (0: the task is a leaf), all
    /// mapped to `send_email`, with dependencies `(task, on)` by task number.
    pub async fn plan(&self, shape: &[usize], deps: &[(usize, usize)]) -> Id {
        let tasks = shape
            .iter()
            .enumerate()
            .map(|(t, subtasks)| DocumentTask {
                key: Some(format!("t{t}")),
                title: format!("Send the update email number {t}"),
                description: "Write and send an email to the breeders on the contact list.".into(),
                capability: Some("send_email".into()),
                params: serde_json::Value::Null,
                duration_days: None,
                resources_needed: vec![],
                depends_on: deps
                    .iter()
                    .filter(|(task, _)| *task == t)
                    .map(|(_, on)| planexec_schemas::plan::DocumentDependency {
                        key: format!("t{on}"),
                        explanation: None,
                    })
                    .collect(),
                timeout_seconds: None,
                max_attempts: None,
                subtasks: (0..*subtasks)
                    .map(|s| DocumentSubtask {
                        key: None,
                        title: format!("Send email {t}.{s}"),
                        description: "Send one email.".into(),
                        capability: Some("send_email".into()),
                        params: serde_json::json!({"n": s}),
                        resources_needed: vec![],
                        timeout_seconds: None,
                        max_attempts: None,
                    })
                    .collect(),
            })
            .collect();
        let document = PlanDocument {
            title: "Test plan".into(),
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

    pub async fn agent(&self, name: &str) -> FakeAgent {
        let token_hash = "0".repeat(64);
        let agent = self
            .command(&RegisterAgent {
                id: None,
                name: name.into(),
                role: "script".into(),
                capabilities: vec!["send_email".into()],
                token_hash,
            })
            .await
            .expect("agent registers");
        let js = async_nats::jetstream::new(self.nats.clone());
        let consumer = js
            .get_stream(self.ns().tasks_stream())
            .await
            .expect("tasks stream")
            .get_consumer(&self.ns().agent_consumer(agent.id))
            .await
            .expect("the agent's consumer exists after registration");
        FakeAgent {
            id: agent.id,
            js,
            consumer,
            ns: self.ns().clone(),
        }
    }

    pub async fn execute(&self, plan: Id, agent: Id) -> Execution {
        self.execute_with(plan, agent, None, None).await
    }

    pub async fn execute_with(
        &self,
        plan: Id,
        agent: Id,
        max_parallel: Option<u32>,
        routing: Option<RoutingPolicy>,
    ) -> Execution {
        let execution = self
            .command(&CreateExecution {
                plan_id: plan,
                agent_id: agent,
                max_parallel,
                routing,
            })
            .await
            .expect("execution created");
        assert_eq!(execution.status, ExecutionStatus::Created);
        execution
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

    /// `(event_type, task, attempt, disposition, reason)` of the execution's history, oldest first.
    pub async fn history(
        &self,
        id: Id,
    ) -> Vec<(String, Option<Id>, Option<i32>, String, Option<String>)> {
        sqlx::query_as(
            "SELECT event_type, task_id, attempt, disposition, reason FROM execution_events
              WHERE execution_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .expect("history")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (shutdown, _) in &self.replicas {
            shutdown.cancel();
        }
    }
}

/// An agent driven by the test: takes messages from its queue and publishes events.
pub struct FakeAgent {
    pub id: Id,
    js: async_nats::jetstream::Context,
    consumer: PullConsumer,
    ns: Namespace,
}

impl FakeAgent {
    /// The next message on the agent's queue, or `None` within `wait`.
    pub async fn next(&self, wait: Duration) -> Option<AgentMessage> {
        let mut batch = self
            .consumer
            .batch()
            .max_messages(1)
            .expires(wait)
            .messages()
            .await
            .expect("fetch");
        let message = batch.next().await?.expect("message");
        message.ack().await.expect("ack");
        Some(serde_json::from_slice(&message.payload).expect("agent message parses"))
    }

    /// The next task (cancels are skipped).
    pub async fn task(&self) -> TaskAssignment {
        loop {
            match self.next(Duration::from_secs(10)).await {
                Some(AgentMessage::Task(task)) => return task,
                Some(AgentMessage::Cancel(_)) => continue,
                None => panic!("agent {} received no task within 10 s", self.id),
            }
        }
    }

    pub fn event(&self, task: &TaskAssignment, body: AgentEventBody) -> AgentEvent {
        AgentEvent {
            event_id: new_id(),
            execution_id: task.execution_id,
            task_id: task.task_id,
            attempt: task.attempt,
            timestamp: chrono::Utc::now(),
            status: None,
            body,
        }
    }

    /// Publishes `event` as this agent, with its id as the JetStream message id.
    pub async fn publish(&self, event: &AgentEvent) {
        self.publish_as(self.id, event).await;
    }

    /// Publishes `event` on the subject of `sender` (to impersonate another agent).
    pub async fn publish_as(&self, sender: Id, event: &AgentEvent) {
        let payload = serde_json::to_vec(event).expect("event serialises");
        self.publish_raw(
            &self.ns.events_subject(sender, event.execution_id),
            &event.event_id.to_string(),
            payload,
        )
        .await;
    }

    pub async fn publish_raw(&self, subject: &str, id: &str, payload: Vec<u8>) {
        self.js
            .send_publish(
                subject.to_owned(),
                PublishMessage::build()
                    .message_id(id)
                    .payload(payload.into()),
            )
            .await
            .expect("publish")
            .await
            .expect("stored by JetStream");
    }

    pub async fn start_and_complete(&self, task: &TaskAssignment) {
        self.publish(&self.event(task, AgentEventBody::TaskStarted {}))
            .await;
        self.publish(&self.event(
            task,
            AgentEventBody::TaskComplete {
                output: serde_json::json!({"done": task.wbs}),
            },
        ))
        .await;
    }
}
