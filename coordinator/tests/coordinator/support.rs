//! A coordinator on real servers, plans to run, and agents scripted from the test.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::PublishMessage;
use futures::StreamExt;
use planexec_schemas::command::RegisterAgent;
use planexec_schemas::event::{AgentEvent, AgentEventBody};
use planexec_schemas::execution::{Execution, ExecutionStatus, RoutingPolicy};
use planexec_schemas::plan::{DocumentSubtask, DocumentTask};
use planexec_schemas::subjects::Namespace;
use planexec_schemas::task::{AgentMessage, TaskAssignment};
use planexec_schemas::{Id, new_id};

/// The shared stack, with plans and scripted agents for the coordinator's tests.
pub struct Stack(planexec_test_stack::Stack);

impl Deref for Stack {
    type Target = planexec_test_stack::Stack;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Stack {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Stack {
    pub async fn new() -> Self {
        Self(planexec_test_stack::Stack::new().await)
    }

    /// Wraps a stack started with options of the test's own.
    pub fn wrap(stack: planexec_test_stack::Stack) -> Self {
        Self(stack)
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
        self.store_tasks("Test plan", tasks).await
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
            .expect("agent registers")
            .agent;
        let js = async_nats::jetstream::new(self.nats.clone());
        let consumer = js
            .get_stream(self.ns.tasks_stream())
            .await
            .expect("tasks stream")
            .get_consumer(&self.ns.agent_consumer(agent.id))
            .await
            .expect("the agent's consumer exists after registration");
        FakeAgent {
            id: agent.id,
            js,
            consumer,
            ns: self.ns.clone(),
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
            .create_execution(plan, agent, max_parallel, routing)
            .await;
        assert_eq!(execution.status, ExecutionStatus::Created);
        execution
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

    /// The durable consumer the coordinator replicas pull agents' events from.
    pub async fn coordinator_consumer(&self) -> PullConsumer {
        async_nats::jetstream::new(self.nats.clone())
            .get_stream(self.ns.events_stream())
            .await
            .expect("events stream")
            .get_consumer(self.ns.coordinator_consumer())
            .await
            .expect("coordinator consumer")
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
