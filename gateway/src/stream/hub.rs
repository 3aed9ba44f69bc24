//! One NATS subscription per watched execution (and one for the list) per gateway, fanned out
//! to every watcher through a bounded broadcast channel.
//!
//! A topic is started by its first watcher and ends when its last watcher leaves (its NATS
//! subscription is dropped with it). Besides relaying updates, each topic reads the execution
//! every [`HEARTBEAT`] and sends that as a heartbeat, so watchers hear from it at least that often
//! and see, from its version, whether they missed an update.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use planexec_schemas::Id;
use planexec_schemas::subjects::Namespace;
use planexec_schemas::update::ExecutionUpdate;
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio::time::MissedTickBehavior;

use super::message::{self, Frame};

/// How often a watcher hears from its topic when nothing changes.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// Frames a slow watcher may fall behind by before it is dropped.
const BACKLOG: usize = 256;

/// Newest events relayed with one update at most (a watcher that needs more takes a snapshot).
const EVENTS_PER_UPDATE: u32 = 200;

/// The live topics of one gateway.
#[derive(Debug, Clone)]
pub struct Hub(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    nats: async_nats::Client,
    pool: PgPool,
    namespace: Namespace,
    topics: Mutex<HashMap<Id, broadcast::Sender<Arc<Frame>>>>,
    list: Mutex<Option<broadcast::Sender<Arc<Frame>>>>,
}

impl Hub {
    pub fn new(nats: async_nats::Client, pool: PgPool, namespace: Namespace) -> Self {
        Self(Arc::new(Inner {
            nats,
            pool,
            namespace,
            topics: Mutex::default(),
            list: Mutex::default(),
        }))
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    /// Executions watched right now (each holds one NATS subscription), plus one when the list
    /// is watched.
    pub fn subscriptions(&self) -> usize {
        let topics = self.0.topics.lock().map_or(0, |t| t.len());
        let list = self.0.list.lock().map_or(0, |l| usize::from(l.is_some()));
        topics + list
    }

    /// Watchers of `execution` right now (connections, not subscriptions).
    pub fn watchers(&self, execution: Id) -> usize {
        let topics = self.0.topics.lock();
        topics.map_or(0, |t| t.get(&execution).map_or(0, |s| s.receiver_count()))
    }

    /// Frames about `execution`, from now on. Subscribes to NATS for its first watcher.
    pub async fn watch(&self, execution: Id) -> Result<broadcast::Receiver<Arc<Frame>>, String> {
        if let Some(rx) = self
            .0
            .topics
            .lock()
            .ok()
            .and_then(|t| t.get(&execution).map(broadcast::Sender::subscribe))
        {
            return Ok(rx);
        }
        let subscription = self
            .0
            .nats
            .subscribe(self.0.namespace.updates_subject(execution))
            .await
            .map_err(|e| format!("cannot subscribe to the execution's updates: {e}"))?;
        // The server has the subscription before the watcher's snapshot is taken: no update
        // committed after the snapshot can be missed.
        let _ = self.0.nats.flush().await;
        let last_seq = message::newest_seq(&self.0.pool, execution).await;
        let mut topics = self.0.topics.lock().map_err(|_| "poisoned".to_owned())?;
        if let Some(sender) = topics.get(&execution) {
            // Another watcher started the topic meanwhile; ours is dropped unused.
            return Ok(sender.subscribe());
        }
        let (sender, rx) = broadcast::channel(BACKLOG);
        topics.insert(execution, sender.clone());
        let topic = Topic {
            hub: self.clone(),
            execution,
            sender,
            last_seq,
        };
        tokio::spawn(topic.run(subscription));
        Ok(rx)
    }

    /// Frames about every execution (status changes for the list).
    pub async fn watch_all(&self) -> Result<broadcast::Receiver<Arc<Frame>>, String> {
        if let Some(rx) = self
            .0
            .list
            .lock()
            .ok()
            .and_then(|l| l.as_ref().map(broadcast::Sender::subscribe))
        {
            return Ok(rx);
        }
        let subscription = self
            .0
            .nats
            .subscribe(self.0.namespace.updates_wildcard())
            .await
            .map_err(|e| format!("cannot subscribe to the executions' updates: {e}"))?;
        let _ = self.0.nats.flush().await;
        let mut list = self.0.list.lock().map_err(|_| "poisoned".to_owned())?;
        if let Some(sender) = list.as_ref() {
            return Ok(sender.subscribe());
        }
        let (sender, rx) = broadcast::channel(BACKLOG);
        *list = Some(sender.clone());
        tokio::spawn(run_list(self.clone(), sender, subscription));
        Ok(rx)
    }

    /// Ends `execution`'s topic if nobody watches it any more; true when it ended.
    fn release(&self, execution: Id) -> bool {
        let Ok(mut topics) = self.0.topics.lock() else {
            return true;
        };
        match topics.get(&execution) {
            Some(sender) if sender.receiver_count() > 0 => false,
            _ => {
                topics.remove(&execution);
                true
            }
        }
    }

    fn release_list(&self) -> bool {
        let Ok(mut list) = self.0.list.lock() else {
            return true;
        };
        match list.as_ref() {
            Some(sender) if sender.receiver_count() > 0 => false,
            _ => {
                *list = None;
                true
            }
        }
    }
}

struct Topic {
    hub: Hub,
    execution: Id,
    sender: broadcast::Sender<Arc<Frame>>,
    last_seq: i64,
}

impl Topic {
    async fn run(mut self, mut subscription: async_nats::Subscriber) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                () = self.sender.closed() => {
                    if self.hub.release(self.execution) { break; }
                }
                next = subscription.next() => {
                    let Some(msg) = next else { break };
                    match serde_json::from_slice::<ExecutionUpdate>(&msg.payload) {
                        Ok(update) => self.relay(update).await,
                        Err(e) => tracing::warn!(error = %e, "an execution update does not parse"),
                    }
                }
                _ = tick.tick() => self.heartbeat().await,
            }
        }
        self.hub.release(self.execution);
        let _ = subscription.unsubscribe().await;
    }

    async fn relay(&mut self, update: ExecutionUpdate) {
        let events = match planexec_store::events::since(
            self.hub.pool(),
            self.execution,
            self.last_seq,
            EVENTS_PER_UPDATE,
        )
        .await
        {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "the stream cannot read new events");
                Vec::new()
            }
        };
        if let Some(last) = events.last() {
            self.last_seq = last.seq;
        }
        let _ = self.sender.send(Arc::new(Frame::update(&update, events)));
    }

    async fn heartbeat(&mut self) {
        match planexec_store::executions::read::get(self.hub.pool(), self.execution).await {
            Ok(Some(execution)) => {
                let _ = self.sender.send(Arc::new(Frame::heartbeat(&execution)));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the stream cannot read the execution"),
        }
    }
}

async fn run_list(
    hub: Hub,
    sender: broadcast::Sender<Arc<Frame>>,
    mut subscription: async_nats::Subscriber,
) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            () = sender.closed() => {
                if hub.release_list() { break; }
            }
            next = subscription.next() => {
                let Some(msg) = next else { break };
                if let Ok(update) = serde_json::from_slice::<ExecutionUpdate>(&msg.payload) {
                    let _ = sender.send(Arc::new(Frame::list_update(&update)));
                }
            }
            _ = tick.tick() => {
                let _ = sender.send(Arc::new(Frame::list_heartbeat()));
            }
        }
    }
    hub.release_list();
    let _ = subscription.unsubscribe().await;
}
