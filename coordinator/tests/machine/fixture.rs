//! Small executions and agents for state-machine tests.

use chrono::{Duration, TimeZone, Utc};
use planexec_coordinator::machine::RetryPolicy;
use planexec_coordinator::machine::{
    AgentDirectory, Change, Context, ExecutionState, Input, Node, NodeKind, NodeSpec, Rejection,
    Transition, derive_state,
};
use planexec_schemas::event::{AgentEvent, AgentEventBody};
use planexec_schemas::execution::{ExecutionStatus, RoutingPolicy, TaskStatus};
use planexec_schemas::{Id, Timestamp};
use uuid::Uuid;

pub const CAP: &str = "send_email";

pub fn id(n: u128) -> Id {
    Uuid::from_u128(n)
}

pub fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .expect("valid time")
}

/// Tasks given as the number of subtasks each has (0: the task is a leaf), with dependencies
/// `(task, depends_on)` by task number.
pub fn execution(shape: &[usize], deps: &[(usize, usize)], agent: Id) -> ExecutionState {
    let mut nodes = Vec::new();
    let mut task_index = Vec::new();
    for (t, subtasks) in shape.iter().enumerate() {
        let task_at = nodes.len();
        task_index.push(task_at);
        nodes.push(Node::new(NodeSpec {
            id: id(1000 + t as u128 * 100),
            kind: NodeKind::Task,
            parent: None,
            is_leaf: *subtasks == 0,
            wbs: format!("1.{}", t + 1),
            title: format!("task {}", t + 1),
            capability: (*subtasks == 0).then(|| CAP.to_owned()),
            deps: Vec::new(),
            timeout_seconds: 60,
            max_attempts: 3,
        }));
        for s in 0..*subtasks {
            nodes.push(Node::new(NodeSpec {
                id: id(1000 + t as u128 * 100 + s as u128 + 1),
                kind: NodeKind::Subtask,
                parent: Some(task_at),
                is_leaf: true,
                wbs: format!("1.{}.{}", t + 1, s + 1),
                title: format!("subtask {}.{}", t + 1, s + 1),
                capability: Some(CAP.to_owned()),
                deps: Vec::new(),
                timeout_seconds: 60,
                max_attempts: 3,
            }));
        }
    }
    for (task, on) in deps {
        let mut spec = (*nodes[task_index[*task]].spec).clone();
        spec.deps.push(task_index[*on]);
        nodes[task_index[*task]].spec = std::sync::Arc::new(spec);
    }
    ExecutionState {
        id: id(1),
        plan_id: id(2),
        agent_id: agent,
        status: ExecutionStatus::Created,
        blocked_reason: None,
        blocked_detail: None,
        progress: 0.0,
        max_parallel: 1,
        routing: RoutingPolicy::Agent,
        current: None,
        nodes,
        started_at: None,
        finished_at: None,
    }
}

pub fn agents(list: &[(Id, bool, &[&str])]) -> AgentDirectory {
    let mut directory = AgentDirectory::default();
    for (agent, online, caps) in list {
        directory.insert(*agent, *online, caps.iter().map(|c| (*c).to_owned()));
    }
    directory
}

/// A state plus the clock and agents, stepping one input at a time.
pub struct Run {
    pub state: ExecutionState,
    pub now: Timestamp,
    pub agents: AgentDirectory,
    pub last: Vec<Change>,
    next_event: u128,
}

impl Run {
    pub fn new(state: ExecutionState, agents: AgentDirectory) -> Self {
        Self {
            state,
            now: t0(),
            agents,
            last: Vec::new(),
            next_event: 1,
        }
    }

    pub fn ctx(&self) -> Context<'_> {
        Context {
            now: self.now,
            agents: &self.agents,
            retry: RetryPolicy::default(),
            queue_timeout: Duration::seconds(600),
            publish_grace: Duration::seconds(5),
        }
    }

    pub fn step(&mut self, input: Input) -> Result<Transition, Rejection> {
        let result = derive_state(&self.state, &input, &self.ctx());
        if let Ok(t) = &result {
            self.state = t.state.clone();
            self.last = t.changes.clone();
        }
        result
    }

    pub fn ok(&mut self, input: Input) -> Vec<Change> {
        match self.step(input.clone()) {
            Ok(t) => t.changes,
            Err(e) => panic!("{input:?} was rejected: {e}"),
        }
    }

    pub fn advance(&mut self, seconds: i64) {
        self.now += Duration::seconds(seconds);
    }

    pub fn event(&mut self, leaf: Id, attempt: u32, body: AgentEventBody) -> AgentEvent {
        self.next_event += 1;
        AgentEvent {
            event_id: Uuid::from_u128(self.next_event << 64),
            execution_id: self.state.id,
            task_id: leaf,
            attempt,
            timestamp: self.now,
            status: None,
            body,
        }
    }

    /// The leaf's current holder reports `body` for its current attempt.
    pub fn report(&mut self, leaf: Id, body: AgentEventBody) -> Result<Transition, Rejection> {
        let node = &self.state.nodes[self.state.index_of(leaf).expect("leaf exists")];
        let (attempt, sender) = (node.attempt, node.assigned_agent.expect("leaf is assigned"));
        let event = self.event(leaf, attempt, body);
        self.step(Input::Agent { sender, event })
    }

    pub fn complete(&mut self, leaf: Id) {
        if let Err(e) = self.report(
            leaf,
            AgentEventBody::TaskComplete {
                output: serde_json::json!({"ok": true}),
            },
        ) {
            panic!("completing {leaf} was rejected: {e}");
        }
    }

    pub fn fail(&mut self, leaf: Id, retryable: bool) {
        let body = AgentEventBody::TaskFailed {
            error: "boom".into(),
            retryable,
            retry_after_seconds: None,
        };
        if let Err(e) = self.report(leaf, body) {
            panic!("failing {leaf} was rejected: {e}");
        }
    }

    pub fn status_of(&self, leaf: Id) -> TaskStatus {
        self.state.nodes[self.state.index_of(leaf).expect("leaf exists")].status
    }

    pub fn in_flight(&self) -> Vec<Id> {
        self.state
            .leaves()
            .filter(|(_, n)| n.status.is_in_flight())
            .map(|(_, n)| n.spec.id)
            .collect()
    }

    pub fn leaf_ids(&self) -> Vec<Id> {
        self.state.leaves().map(|(_, n)| n.spec.id).collect()
    }
}
