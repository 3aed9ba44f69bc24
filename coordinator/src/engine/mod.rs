//! The engine: applies work to executions in one transaction, then publishes what it implies.
//!
//! Every write of execution state in planexec goes through [`Engine::run`]:
//! 1. lock the executions (row locks in id order; the scheduler skips busy ones),
//! 2. materialise the tasks of executions that start,
//! 3. load their tasks and drop events whose id is already recorded,
//! 4. apply each piece of work through the pure state machine,
//! 5. save what changed and record the history, then commit,
//! 6. publish dispatches, cancels and live updates (the outbox: a dispatch whose publication is
//!    not confirmed is published again by the scheduler).
//!
//! Acknowledging a JetStream message or answering a command happens only after `run` returns,
//! so nothing is acknowledged before its effect is committed.

mod cache;
mod history;
mod outbox;
mod state;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use planexec_schemas::Id;
use planexec_schemas::event::{AgentEvent, CoordinatorEvent};
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::update::{ExecutionUpdate, TaskUpdate};
use planexec_store::executions::materialise::TaskDefaults;
use planexec_store::executions::{self, ExecutionRow};
use planexec_store::{events, plans};
use sqlx::PgPool;

use crate::directory::Directory;
use crate::liveness::Liveness;
use crate::machine::{self, Change, Context, ExecutionState, Input, Rejection};
use crate::{Error, Options};

pub use history::{Dispatch, coordinator_event};

/// Something to do to one execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// An event from `sender`, the agent its transport proved it came from.
    Agent { sender: Id, event: AgentEvent },
    /// An operator's command (pause, resume, cancel, reassign, resolve).
    Operator(Input),
    /// Look at the execution: start it, release it after review, fire its due deadlines.
    Wake,
    /// Agents came, went or registered.
    AgentsChanged,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub execution_id: Id,
    pub work: Work,
}

/// What became of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applied,
    /// An event whose id was already recorded: nothing changed.
    Duplicate,
    Rejected(Rejection),
    UnknownExecution,
    /// Another transaction held the execution (scheduler only); it will be looked at again.
    Busy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemResult {
    pub outcome: Outcome,
    /// The execution after the batch, when it exists.
    pub status: Option<ExecutionStatus>,
    pub progress: f64,
}

/// How to take the execution locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Wait for other transactions (events and commands must be applied).
    Wait,
    /// Skip executions another transaction holds (the scheduler comes back later).
    SkipLocked,
}

/// A cheap-to-clone handle on the engine.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    nats: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    options: Options,
    directory: Directory,
    liveness: Liveness,
    /// States of executions as last committed here, by version.
    states: cache::StateCache,
}

struct Entry {
    row: ExecutionRow,
    before: ExecutionState,
    state: ExecutionState,
    changes: Vec<Change>,
    effects: history::Effects,
}

impl Engine {
    pub fn new(pool: PgPool, nats: async_nats::Client, options: Options) -> Self {
        let jetstream = async_nats::jetstream::new(nats.clone());
        Self {
            inner: Arc::new(Inner {
                pool,
                nats,
                jetstream,
                options,
                directory: Directory::default(),
                liveness: Liveness::default(),
                states: cache::StateCache::default(),
            }),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    pub fn nats(&self) -> &async_nats::Client {
        &self.inner.nats
    }

    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.inner.jetstream
    }

    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    pub fn liveness(&self) -> &Liveness {
        &self.inner.liveness
    }

    pub(crate) fn states(&self) -> &cache::StateCache {
        &self.inner.states
    }

    /// Applies `items` in order, in one transaction, and publishes their effects.
    pub async fn run(&self, items: &[Item], mode: LockMode) -> Result<Vec<ItemResult>, Error> {
        let started = std::time::Instant::now();
        let now = Utc::now();
        let options = &self.inner.options;
        let directory = self.inner.directory.snapshot(&self.inner.pool).await?;
        let ctx = Context {
            now,
            agents: &directory,
            retry: options.retry,
            queue_timeout: chrono::Duration::from_std(options.queue_timeout)
                .unwrap_or(chrono::Duration::hours(1)),
            publish_grace: chrono::Duration::from_std(options.publish_grace)
                .unwrap_or(chrono::Duration::seconds(5)),
        };
        let mut ids: Vec<Id> = items.iter().map(|i| i.execution_id).collect();
        ids.sort();
        ids.dedup();

        let mut tx = self.inner.pool.begin().await?;
        let rows = match mode {
            LockMode::Wait => executions::engine::lock(&mut tx, &ids).await?,
            LockMode::SkipLocked => executions::engine::lock_skip_locked(&mut tx, &ids).await?,
        };
        let woken: HashSet<Id> = items
            .iter()
            .filter(|i| i.work == Work::Wake)
            .map(|i| i.execution_id)
            .collect();
        let mut materialised_now = Vec::new();
        let mut fresh: HashSet<Id> = HashSet::new();
        let mut startable: HashMap<Id, bool> = HashMap::new();
        for row in rows.iter().filter(|r| woken.contains(&r.id)) {
            if !matches!(
                row.status()?,
                ExecutionStatus::Created | ExecutionStatus::NeedsReview
            ) {
                continue;
            }
            let ready = plans::read::status(&mut *tx, row.plan_id)
                .await?
                .is_some_and(|s| s.is_startable());
            startable.insert(row.id, ready);
            if ready {
                let defaults = TaskDefaults {
                    timeout_seconds: options.task_timeout_seconds,
                    max_attempts: options.retry.max_attempts,
                };
                if let Some((tasks, leaves)) =
                    executions::materialise::materialise(&mut tx, row.id, row.plan_id, defaults)
                        .await?
                {
                    fresh.insert(row.id);
                    materialised_now.push(history::coordinator_event(
                        row.id,
                        None,
                        None,
                        now,
                        CoordinatorEvent::TasksMaterialised { tasks, leaves },
                    ));
                }
            }
        }
        let locked: Vec<Id> = rows.iter().map(|r| r.id).collect();
        // Only executions changed elsewhere since this replica last saw them are loaded.
        let mut cached: HashMap<Id, ExecutionState> = rows
            .iter()
            .filter(|r| !fresh.contains(&r.id))
            .filter_map(|r| Some((r.id, self.inner.states.take(r.id, r.version)?)))
            .collect();
        let to_load: Vec<Id> = locked
            .iter()
            .filter(|id| !cached.contains_key(id))
            .copied()
            .collect();
        let mut nodes = executions::engine::load_nodes(&mut tx, &to_load).await?;
        let mut entries: HashMap<Id, Entry> = HashMap::with_capacity(rows.len());
        for row in rows {
            let state = match cached.remove(&row.id) {
                Some(state) => state,
                None => state::build(&row, &nodes.remove(&row.id).unwrap_or_default())?,
            };
            entries.insert(
                row.id,
                Entry {
                    row,
                    before: state.clone(),
                    state,
                    changes: Vec::new(),
                    effects: history::Effects::default(),
                },
            );
        }
        let event_ids: Vec<Id> = items
            .iter()
            .filter_map(|i| match &i.work {
                Work::Agent { event, .. } => Some(event.event_id),
                _ => None,
            })
            .collect();
        let mut seen = events::seen(&mut tx, &event_ids).await?;

        let mut results = Vec::with_capacity(items.len());
        let mut history = materialised_now;
        for item in items {
            let Some(entry) = entries.get_mut(&item.execution_id) else {
                let outcome = if locked.len() < ids.len() && mode == LockMode::SkipLocked {
                    Outcome::Busy
                } else {
                    Outcome::UnknownExecution
                };
                results.push(ItemResult {
                    outcome,
                    status: None,
                    progress: 0.0,
                });
                continue;
            };
            let mut changes = Vec::new();
            let outcome = match &item.work {
                Work::Agent { sender, event } => {
                    self.inner.liveness.touch(*sender, now);
                    if !seen.insert(event.event_id) {
                        Outcome::Duplicate
                    } else {
                        let input = Input::Agent {
                            sender: *sender,
                            event: event.clone(),
                        };
                        let applied = machine::apply(&mut entry.state, &input, &ctx, &mut changes);
                        history.push(history::agent_event(*sender, event, applied.as_ref().err()));
                        match applied {
                            Ok(()) => Outcome::Applied,
                            Err(rejection) => Outcome::Rejected(rejection),
                        }
                    }
                }
                Work::Operator(input) => {
                    match machine::apply(&mut entry.state, input, &ctx, &mut changes) {
                        Ok(()) => Outcome::Applied,
                        Err(rejection) => Outcome::Rejected(rejection),
                    }
                }
                Work::Wake => {
                    let mut inputs = Vec::new();
                    match entry.state.status {
                        ExecutionStatus::Created => inputs.push(Input::Start {
                            needs_review: !startable.get(&entry.state.id).copied().unwrap_or(false),
                        }),
                        ExecutionStatus::NeedsReview
                            if startable.get(&entry.state.id) == Some(&true) =>
                        {
                            inputs.push(Input::Approve);
                        }
                        _ => {}
                    }
                    inputs.push(Input::Tick);
                    for input in inputs {
                        // Each is valid by construction; a no-op is fine.
                        let _ = machine::apply(&mut entry.state, &input, &ctx, &mut changes);
                    }
                    Outcome::Applied
                }
                Work::AgentsChanged => {
                    let _ =
                        machine::apply(&mut entry.state, &Input::AgentsChanged, &ctx, &mut changes);
                    Outcome::Applied
                }
            };
            history::effects(&entry.state, &changes, now, &mut entry.effects);
            history.append(&mut entry.effects.history);
            entry.changes.extend(changes);
            results.push(ItemResult {
                outcome,
                status: Some(entry.state.status),
                progress: entry.state.progress,
            });
        }

        let mut node_saves = Vec::new();
        let mut execution_saves = Vec::new();
        let mut outputs = Vec::new();
        for entry in entries.values() {
            let saves = state::node_saves(&entry.before, &entry.state, &entry.effects.redispatched);
            let tasks_changed = !saves.is_empty();
            node_saves.extend(saves);
            if let Some(save) =
                state::execution_save(&entry.row, &entry.state, ctx.publish_grace, tasks_changed)
            {
                execution_saves.push(save);
            }
            for change in &entry.changes {
                match change {
                    Change::Completed { index, output } => {
                        outputs.push(executions::engine::NodeOutput::Result {
                            table: state::table_of(&entry.state, *index),
                            id: entry.state.nodes[*index].spec.id,
                            value: output.clone(),
                        })
                    }
                    Change::Failed { index, error } => {
                        outputs.push(executions::engine::NodeOutput::Error {
                            table: state::table_of(&entry.state, *index),
                            id: entry.state.nodes[*index].spec.id,
                            message: error.clone(),
                        })
                    }
                    _ => {}
                }
            }
        }
        executions::engine::save_nodes(&mut tx, &node_saves, &outputs).await?;
        let versions = executions::engine::save_executions(&mut tx, &execution_saves).await?;
        events::insert(&mut tx, &history).await?;
        tx.commit().await?;

        crate::metrics::batch(items.len(), &results, started.elapsed());
        let mut dispatches = Vec::new();
        let mut cancels = Vec::new();
        let mut updates = Vec::new();
        let versions: HashMap<Id, (i64, chrono::DateTime<Utc>)> = versions
            .into_iter()
            .map(|(id, v, at)| (id, (v, at)))
            .collect();
        for entry in entries.into_values() {
            machine::log::log_changes(&entry.state, &entry.changes);
            if let Some((version, at)) = versions.get(&entry.state.id) {
                updates.push(update_of(&entry.before, &entry.state, *version, *at));
            }
            dispatches.extend(entry.effects.dispatches);
            cancels.extend(entry.effects.cancels);
            let version = versions
                .get(&entry.state.id)
                .map_or(entry.row.version, |(v, _)| *v);
            self.inner.states.put(version, entry.state);
        }
        self.publish(dispatches, cancels, updates).await;
        Ok(results)
    }

    /// Wakes `executions` (create, approve, scheduler), skipping those another replica holds.
    pub async fn wake(&self, executions: &[Id]) -> Result<Vec<ItemResult>, Error> {
        let items: Vec<Item> = executions
            .iter()
            .map(|id| Item {
                execution_id: *id,
                work: Work::Wake,
            })
            .collect();
        self.run(&items, LockMode::SkipLocked).await
    }

    /// Tells `executions` that agents changed.
    pub async fn agents_changed(&self, executions: &[Id]) -> Result<(), Error> {
        self.inner.directory.invalidate();
        let items: Vec<Item> = executions
            .iter()
            .map(|id| Item {
                execution_id: *id,
                work: Work::AgentsChanged,
            })
            .collect();
        for chunk in items.chunks(64) {
            self.run(chunk, LockMode::Wait).await?;
        }
        Ok(())
    }
}

fn update_of(
    before: &ExecutionState,
    after: &ExecutionState,
    version: i64,
    at: chrono::DateTime<Utc>,
) -> ExecutionUpdate {
    let tasks = after
        .nodes
        .iter()
        .zip(&before.nodes)
        .filter(|(a, b)| a.status != b.status || a.attempt != b.attempt || a.progress != b.progress)
        .map(|(a, _)| TaskUpdate {
            id: a.spec.id,
            wbs: a.spec.wbs.clone(),
            status: a.status,
            attempt: a.attempt,
            progress: a.progress,
        })
        .collect();
    ExecutionUpdate {
        execution_id: after.id,
        version,
        status: after.status,
        progress: after.progress,
        current_task: after
            .current
            .map(|i| planexec_schemas::execution::CurrentTask {
                id: after.nodes[i].spec.id,
                wbs: after.nodes[i].spec.wbs.clone(),
                title: after.nodes[i].spec.title.clone(),
            }),
        blocked_reason: after.blocked_reason,
        tasks,
        at,
    }
}
