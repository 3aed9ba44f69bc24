//! A real coordinator on real servers and a plan that needs every one of Larry's skills.

use std::ops::Deref;
use std::time::Duration;

use planexec_coordinator::machine::RetryPolicy;
use planexec_schemas::Id;
use planexec_schemas::command::ApprovePlan;
use planexec_schemas::event::{EventSource, ExecutionEvent};
use planexec_schemas::execution::Execution;
use planexec_schemas::plan::{
    DocumentDependency, DocumentPhase, DocumentSubtask, DocumentTask, PlanDocument, PlanSource,
};
use planexec_sim::SimOptions;

pub use planexec_test_stack::OPERATOR;

/// The shared stack, with Larry's options and a plan that needs all his skills.
pub struct Stack(planexec_test_stack::Stack);

impl Deref for Stack {
    type Target = planexec_test_stack::Stack;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Stack {
    /// A stack whose coordinator retries often and quickly: Larry fails now and then.
    pub async fn new() -> Self {
        Self(
            planexec_test_stack::Stack::with_options(|options| {
                options.retry = RetryPolicy {
                    max_attempts: 10,
                    initial_backoff_seconds: 0.1,
                    multiplier: 2.0,
                    max_backoff_seconds: 0.5,
                };
            })
            .await,
        )
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
        let plan = self.store_plan(document).await;
        // A human_review leaf may send the plan to review; approving it is the operator's part.
        self.command(&ApprovePlan { plan_id: plan })
            .await
            .expect("plan approved");
        plan
    }

    pub async fn execute(&self, plan: Id, agent: Id, max_parallel: u32) -> Execution {
        self.create_execution(plan, agent, Some(max_parallel), None)
            .await
    }

    /// The agents' events in the execution's history, oldest first, once there are `n`.
    pub async fn agent_history(&self, id: Id, n: u64) -> Vec<ExecutionEvent> {
        let mut events = self.until_agent_events(id, n).await;
        events.retain(|e| e.source == EventSource::Agent);
        events
    }
}
