//! Conductor's `IN_PROGRESS` with `callbackAfterSeconds`: the worker is still on a task and
//! wants it offered again after a delay (long-running work, checked on now and then).
//!
//! The gateway remembers each task its Conductor polls hand out until the worker finishes it
//! (or its response timeout passes); a callback marks one due at a time, and the polls hand
//! out due tasks before anything new, with `pollCount` counting the offers. This lives in the
//! process: a worker that polls another replica gets the task again only here (or with a
//! fresh attempt when its timeout passes).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use planexec_schemas::Id;
use planexec_schemas::api::ConductorTask;

#[derive(Debug)]
struct Outstanding {
    task: ConductorTask,
    /// When to offer it again, if the worker asked.
    due: Option<Instant>,
    /// When to stop remembering it (its response timeout, with a margin).
    forget_at: Instant,
}

/// Tasks handed out by Conductor polls and not finished yet, by agent and Conductor task id.
#[derive(Debug, Default)]
pub struct Callbacks(Mutex<HashMap<Id, HashMap<String, Outstanding>>>);

impl Callbacks {
    /// Remembers `task`, just handed to `agent`, for at most `keep_for`.
    pub fn handed_out(&self, agent: Id, task: ConductorTask, keep_for: Duration) {
        let now = Instant::now();
        if let Ok(mut map) = self.0.lock() {
            let tasks = map.entry(agent).or_default();
            tasks.retain(|_, o| o.forget_at > now);
            tasks.insert(
                task.task_id.clone(),
                Outstanding {
                    task,
                    due: None,
                    forget_at: now + keep_for,
                },
            );
        }
    }

    /// The worker asked for `task_id` again after `delay`; false when it is not remembered.
    pub fn call_back(&self, agent: Id, task_id: &str, delay: Duration) -> bool {
        let Ok(mut map) = self.0.lock() else {
            return false;
        };
        match map.get_mut(&agent).and_then(|tasks| tasks.get_mut(task_id)) {
            Some(outstanding) => {
                outstanding.due = Some(Instant::now() + delay);
                outstanding.task.callback_after_seconds = delay.as_secs();
                true
            }
            None => false,
        }
    }

    /// Up to `max` of `agent`'s due tasks of `task_type`, offered once more.
    pub fn due(&self, agent: Id, task_type: &str, max: usize, now_ms: i64) -> Vec<ConductorTask> {
        let now = Instant::now();
        let Ok(mut map) = self.0.lock() else {
            return Vec::new();
        };
        let Some(tasks) = map.get_mut(&agent) else {
            return Vec::new();
        };
        let mut offered = Vec::new();
        for outstanding in tasks.values_mut() {
            if offered.len() >= max {
                break;
            }
            if outstanding.task.task_type == task_type && outstanding.due.is_some_and(|d| d <= now)
            {
                outstanding.due = None;
                outstanding.task.poll_count += 1;
                outstanding.task.update_time = now_ms;
                offered.push(outstanding.task.clone());
            }
        }
        offered
    }

    /// The worker finished `task_id` (or it was cancelled): forget it.
    pub fn finished(&self, agent: Id, task_id: &str) {
        if let Ok(mut map) = self.0.lock()
            && let Some(tasks) = map.get_mut(&agent)
        {
            tasks.remove(task_id);
        }
    }
}
