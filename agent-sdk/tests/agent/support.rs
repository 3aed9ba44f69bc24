//! A real coordinator on real servers, plans to run, and handlers scripted by the tests.

use std::future::Future;
use std::ops::Deref;
use std::time::Duration;

use planexec_agent_sdk::{
    Agent, AgentOptions, Credentials, Handler, Identity, RegisterVia, Registration, RunReport,
    TaskAssignment, TaskContext, TaskError, Transport,
};
use planexec_schemas::Id;
use planexec_schemas::command::UpdateExecutionStatus;
use planexec_schemas::event::{EventSource, ExecutionEvent};
use planexec_schemas::execution::{Execution, ExecutionStatus};
use planexec_schemas::plan::DocumentTask;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use planexec_test_stack::OPERATOR;

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

/// The shared stack, with plans, registration and SDK agents for the SDK's tests.
pub struct Stack(planexec_test_stack::Stack);

impl Deref for Stack {
    type Target = planexec_test_stack::Stack;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Stack {
    pub async fn new() -> Self {
        Self(planexec_test_stack::Stack::new().await)
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
        self.store_tasks("SDK test plan", tasks).await
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
        self.create_execution(plan, agent, Some(max_parallel), None)
            .await
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
