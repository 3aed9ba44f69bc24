//! The in-memory picture of one execution that the state machine works on.
//!
//! Nodes are in execution order: tasks by position, each task followed by its subtasks. What
//! never changes after materialisation sits behind an `Arc` ([`NodeSpec`]) so that copying a
//! state for a transition costs little.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Duration;
use planexec_schemas::execution::{BlockedReason, ExecutionStatus, RoutingPolicy, TaskStatus};
use planexec_schemas::{Id, Timestamp};

/// A task of level 2 or a subtask of level 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Task,
    Subtask,
}

/// What a node is; fixed when the execution's tasks are materialised from the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    pub id: Id,
    pub kind: NodeKind,
    /// For a subtask, the index of its task.
    pub parent: Option<usize>,
    /// Handed to agents itself (a subtask, or a task without subtasks).
    pub is_leaf: bool,
    pub wbs: String,
    pub title: String,
    /// For leaves: the capability an agent needs.
    pub capability: Option<String>,
    /// For tasks: indices of the tasks that must be done first.
    pub deps: Vec<usize>,
    pub timeout_seconds: u32,
    pub max_attempts: u32,
}

/// A node and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub spec: Arc<NodeSpec>,
    pub status: TaskStatus,
    /// Fencing token, bumped at every dispatch.
    pub attempt: u32,
    /// Failed or timed-out attempts since the last reset.
    pub failures: u32,
    /// Who holds it (in flight), or who it is pinned to (ready after a reassign).
    pub assigned_agent: Option<Id>,
    pub progress: f64,
    pub lease_deadline: Option<Timestamp>,
    pub next_attempt_at: Option<Timestamp>,
    pub dispatched_at: Option<Timestamp>,
    /// JetStream confirmed the dispatch of the current attempt.
    pub published: bool,
    /// Whether the database holds that confirmation yet: the engine writes it with the
    /// execution's next change, or on its own after a while (`engine::confirm`).
    pub published_stored: bool,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

impl Node {
    /// A node that has not started.
    pub fn new(spec: NodeSpec) -> Self {
        Self {
            spec: Arc::new(spec),
            status: TaskStatus::Pending,
            attempt: 0,
            failures: 0,
            assigned_agent: None,
            progress: 0.0,
            lease_deadline: None,
            next_attempt_at: None,
            dispatched_at: None,
            published: false,
            published_stored: false,
            started_at: None,
            finished_at: None,
        }
    }
}

/// One execution as the machine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionState {
    pub id: Id,
    pub plan_id: Id,
    /// The execution's own agent (routing `agent` sends everything here).
    pub agent_id: Id,
    pub status: ExecutionStatus,
    pub blocked_reason: Option<BlockedReason>,
    pub blocked_detail: Option<String>,
    /// Percent of leaves done; never decreases.
    pub progress: f64,
    pub max_parallel: u32,
    pub routing: RoutingPolicy,
    /// Index of the leaf shown as "current".
    pub current: Option<usize>,
    pub nodes: Vec<Node>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

impl ExecutionState {
    pub fn leaves(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.spec.is_leaf)
    }

    pub fn index_of(&self, id: Id) -> Option<usize> {
        self.nodes.iter().position(|n| n.spec.id == id)
    }

    pub fn leaves_total(&self) -> u32 {
        u32::try_from(self.leaves().count()).unwrap_or(u32::MAX)
    }

    pub fn leaves_done(&self) -> u32 {
        u32::try_from(self.leaves().filter(|(_, n)| n.status.is_done()).count()).unwrap_or(u32::MAX)
    }

    /// The children of a task, in order.
    pub fn children(&self, task: usize) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.spec.parent == Some(task))
    }

    /// The earliest stored deadline: when the scheduler must look at this execution again.
    pub fn next_wakeup(&self, publish_grace: Duration) -> Option<Timestamp> {
        if self.status.is_terminal() {
            return None;
        }
        self.leaves()
            .filter_map(|(_, n)| match n.status {
                TaskStatus::Dispatched if !n.published => {
                    let grace = n.dispatched_at.map(|at| at + publish_grace);
                    [grace, n.lease_deadline].into_iter().flatten().min()
                }
                TaskStatus::Dispatched | TaskStatus::Running => n.lease_deadline,
                TaskStatus::RetryWait => n.next_attempt_at,
                _ => None,
            })
            .min()
    }
}

/// What the machine knows of one agent when routing.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentView {
    pub online: bool,
    pub capabilities: HashSet<String>,
}

/// Every registered agent, as the coordinator last saw them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentDirectory {
    agents: HashMap<Id, AgentView>,
}

impl AgentDirectory {
    pub fn insert(&mut self, id: Id, online: bool, capabilities: impl IntoIterator<Item = String>) {
        self.agents.insert(
            id,
            AgentView {
                online,
                capabilities: capabilities.into_iter().collect(),
            },
        );
    }

    pub fn get(&self, id: Id) -> Option<&AgentView> {
        self.agents.get(&id)
    }

    pub fn is_online(&self, id: Id) -> bool {
        self.agents.get(&id).is_some_and(|a| a.online)
    }

    pub fn can(&self, id: Id, capability: &str) -> bool {
        self.agents
            .get(&id)
            .is_some_and(|a| a.capabilities.contains(capability))
    }

    /// Agents with `capability`, sorted by id so that choices are deterministic.
    pub fn capable(&self, capability: &str) -> Vec<(Id, &AgentView)> {
        let mut found: Vec<(Id, &AgentView)> = self
            .agents
            .iter()
            .filter(|(_, a)| a.capabilities.contains(capability))
            .map(|(id, a)| (*id, a))
            .collect();
        found.sort_by_key(|(id, _)| *id);
        found
    }

    pub fn len(&self) -> usize {
        self.agents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }
}
