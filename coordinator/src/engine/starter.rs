//! Starting the executions just created, many in one transaction.
//!
//! A creation commits its execution row and answers; its first wake (materialise the tasks,
//! dispatch the first ones) follows here. Creations that arrive while a start transaction runs
//! wait for it and then start together in the next one, so a burst of creations costs a few
//! transactions rather than one each: the group commit of starts. Each start keeps the trace of
//! the request that created it.
//!
//! Nothing here is durable, and need not be: every execution is created with its wakeup due, so
//! one whose start is lost (the process died, the transaction failed) is started by the
//! scheduler's next look.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use planexec_schemas::Id;
use planexec_telemetry::propagate::TraceContext;

use super::Engine;
use super::work::{Item, LockMode, Work};

/// Executions started in one transaction at most.
const PER_TRANSACTION: usize = 64;

/// The executions waiting for their start, and whether a task is starting them.
#[derive(Debug, Default)]
pub(super) struct Starts {
    waiting: Mutex<Vec<Item>>,
    running: AtomicBool,
}

impl Starts {
    fn push(&self, item: Item) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(item);
    }

    fn take(&self) -> Vec<Item> {
        std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn is_empty(&self) -> bool {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

impl Engine {
    /// Starts a just-created execution soon, in the trace of the current span, together with
    /// the other executions created meanwhile.
    pub fn start_soon(&self, execution_id: Id) {
        let starts = &self.inner.starts;
        starts.push(Item {
            execution_id,
            work: Work::Start {
                trace: TraceContext::current(),
            },
        });
        if !starts.running.swap(true, Ordering::AcqRel) {
            let engine = self.clone();
            tokio::spawn(async move { engine.run_starts().await });
        }
    }

    /// Starts what waits until nothing does.
    async fn run_starts(&self) {
        let starts = &self.inner.starts;
        loop {
            let items = starts.take();
            if items.is_empty() {
                starts.running.store(false, Ordering::Release);
                // A start pushed between the take and the store found the flag still set and
                // spawned nothing: take it here, unless a new task did already.
                if starts.is_empty() || starts.running.swap(true, Ordering::AcqRel) {
                    return;
                }
                continue;
            }
            for chunk in items.chunks(PER_TRANSACTION) {
                if let Err(e) = self.run(chunk, LockMode::SkipLocked).await {
                    tracing::warn!(error = %e, executions = chunk.len(),
                        "starting failed; the scheduler will start them");
                }
            }
        }
    }
}
