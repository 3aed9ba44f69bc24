//! Larry, the simulated assistant: a [`Handler`] that acts out each capability.
//!
//! An attempt takes the action's typical duration (spread ±30 %, times the time scale), split
//! over the action's steps with one progress report after each. With probability
//! `failure_rate` the attempt fails at a random step with one of the action's passing troubles
//! (retryable). When the agent starts shutting down, Larry stops at once and hands the task
//! back, to be dispatched again.

use std::collections::HashMap;
use std::time::Duration;

use planexec_agent_sdk::{Handler, LogLevel, TaskAssignment, TaskContext, TaskError};
use serde_json::Value;

use crate::actions::Action;
use crate::chance::Chance;
use crate::outputs::output;

/// How Larry behaves.
#[derive(Debug, Clone)]
pub struct Larry {
    /// Multiplies every duration: `1` is real time, `0.0001` runs a plan in seconds, `0` is
    /// instant.
    pub time_scale: f64,
    /// Probability that an attempt fails (retryably).
    pub failure_rate: f64,
    /// Seeds every draw; the same seed gives the same durations, failures and outputs.
    pub seed: u64,
    /// Typical durations by capability, replacing the built-in ones.
    pub durations: HashMap<String, Duration>,
}

impl Larry {
    /// How long one attempt of `action` takes, before the spread.
    fn typical(&self, action: Action) -> Duration {
        self.durations
            .get(action.capability())
            .copied()
            .unwrap_or_else(|| action.typical_duration())
    }

    /// The simulated duration of one attempt.
    pub fn duration(&self, action: Action, chance: &mut Chance) -> Duration {
        let scale = if self.time_scale.is_finite() {
            self.time_scale.max(0.0)
        } else {
            1.0
        };
        let seconds = self.typical(action).as_secs_f64() * chance.spread() * scale;
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
    }
}

impl Handler for Larry {
    fn capabilities(&self) -> Vec<String> {
        Action::ALL
            .iter()
            .map(|a| a.capability().to_owned())
            .collect()
    }

    async fn handle(&self, task: TaskAssignment, ctx: TaskContext) -> Result<Value, TaskError> {
        let Some(action) = Action::of(&task.capability) else {
            return Err(TaskError::give_up(format!(
                "Larry cannot {}",
                task.capability
            )));
        };
        let mut chance = Chance::for_attempt(self.seed, task.task_id, task.attempt);
        let total = self.duration(action, &mut chance);
        let fails = chance.happens(self.failure_rate);
        let steps = action.steps();
        let last_step = u32::try_from(steps.len().saturating_sub(1)).unwrap_or(0);
        let failing_step = fails.then(|| chance.between(0, last_step) as usize);
        let trouble = chance.pick(action.troubles());
        let per_step = total / u32::try_from(steps.len().max(1)).unwrap_or(1);
        let shutting_down = ctx.shutting_down();
        for (index, step) in steps.iter().enumerate() {
            tokio::select! {
                _ = tokio::time::sleep(per_step) => {}
                _ = ctx.cancelled() => return Err(TaskError::release("cancelled")),
                _ = shutting_down.cancelled() => {
                    return Err(TaskError::release("Larry went off duty before finishing"));
                }
            }
            let percent = 100.0 * (index + 1) as f64 / (steps.len() + 1) as f64;
            ctx.progress_with_status(percent, format!("{step}: {}", task.title), *step)
                .await;
            if failing_step == Some(index) {
                ctx.log(LogLevel::Warn, format!("{step} failed: {trouble}"))
                    .await;
                return Err(TaskError::retry(trouble));
            }
        }
        Ok(output(action, &task, &mut chance))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn larry(time_scale: f64) -> Larry {
        Larry {
            time_scale,
            failure_rate: 0.0,
            seed: 1,
            durations: HashMap::new(),
        }
    }

    #[test]
    fn a_phone_call_takes_about_eight_minutes_times_the_time_scale() {
        let task = planexec_schemas::new_id();
        let mut chance = Chance::for_attempt(1, task, 1);
        let real = larry(1.0).duration(Action::MakePhoneCall, &mut chance);
        assert!(
            (336..=624).contains(&real.as_secs()),
            "8 min ± 30 %: {real:?}"
        );
        let fast = larry(0.0001).duration(Action::MakePhoneCall, &mut chance);
        assert!(fast < Duration::from_millis(70), "{fast:?}");
        let instant = larry(0.0).duration(Action::MakePhoneCall, &mut chance);
        assert_eq!(instant, Duration::ZERO);
    }

    #[test]
    fn configured_durations_replace_the_typical_ones() {
        let mut configured = larry(1.0);
        configured
            .durations
            .insert("send_email".into(), Duration::from_secs(10));
        let mut chance = Chance::for_attempt(1, planexec_schemas::new_id(), 1);
        let took = configured.duration(Action::SendEmail, &mut chance);
        assert!(took <= Duration::from_secs(13), "{took:?}");
    }

    #[test]
    fn larry_serves_his_eight_capabilities_and_human_review() {
        let served = larry(1.0).capabilities();
        for name in planexec_schemas::agent::capability::LARRY {
            assert!(served.iter().any(|s| s == name), "{name}");
        }
        assert!(served.iter().any(|s| s == "human_review"));
    }
}
