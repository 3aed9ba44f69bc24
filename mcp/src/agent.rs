//! The agent tools: claim a task, report progress, complete or fail it, through the same
//! routes an HTTP agent uses (`GET /api/agents/{id}/work`, `POST /api/executions/{id}/events`).
//!
//! A report that ends an attempt may answer with the agent's next task, already taken off its
//! queue; it is kept in [`Claimed`] and handed out by the next `next_task`, so nothing the
//! gateway hands over is lost between calls.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use planexec_schemas::api::{NextStep, ReportEventRequest, ReportEventResponse};
use planexec_schemas::event::{AgentEventBody, Disposition};
use planexec_schemas::mcp::{
    ClaimedTask, CompleteTaskInput, DependencyOutput, FailTaskInput, NextTaskInput, NextTaskOutput,
    ReportProgressInput,
};
use planexec_schemas::task::{AgentMessage, TaskAssignment};
use planexec_schemas::{Id, new_id};
use serde_json::{Value, json};

use crate::api::{Api, ApiRequest, Verb};
use crate::error::Error;

/// Tasks handed to each agent in a report's answer, not yet given out by `next_task`.
#[derive(Debug, Clone, Default)]
pub struct Claimed(Arc<Mutex<HashMap<Id, VecDeque<TaskAssignment>>>>);

impl Claimed {
    fn push(&self, agent: Id, task: TaskAssignment) {
        if let Ok(mut map) = self.0.lock() {
            map.entry(agent).or_default().push_back(task);
        }
    }

    fn pop(&self, agent: Id) -> Option<TaskAssignment> {
        self.0
            .lock()
            .ok()
            .and_then(|mut map| map.get_mut(&agent).and_then(VecDeque::pop_front))
    }

    /// Drops a kept task the coordinator cancelled.
    fn forget(&self, agent: Id, task: Id, attempt: u32) {
        if let Ok(mut map) = self.0.lock()
            && let Some(queue) = map.get_mut(&agent)
        {
            queue.retain(|t| !(t.task_id == task && t.attempt == attempt));
        }
    }
}

/// An agent's token and identity, with what it was handed.
#[derive(Debug)]
pub struct AgentTools<'a, A> {
    pub api: &'a A,
    pub token: &'a str,
    pub agent: Id,
    pub claimed: &'a Claimed,
}

impl<A: Api> AgentTools<'_, A> {
    async fn call(&self, verb: Verb, path: String, body: Option<Value>) -> Result<Value, Error> {
        self.api
            .send(ApiRequest {
                verb,
                path,
                token: self.token.to_owned(),
                body,
            })
            .await?
            .ok()
    }

    /// Reports one event about `task`; the answer's next task is kept for `next_task`.
    async fn report(
        &self,
        execution: Id,
        task: Id,
        attempt: u32,
        body: AgentEventBody,
    ) -> Result<ReportEventResponse, Error> {
        let request = ReportEventRequest {
            event_id: Some(new_id()),
            task_id: task,
            attempt,
            timestamp: None,
            status: None,
            body,
        };
        let body = serde_json::to_value(&request).map_err(|e| Error::Arguments(e.to_string()))?;
        let answer = self
            .call(
                Verb::Post,
                format!("/api/executions/{execution}/events"),
                Some(body),
            )
            .await?;
        let answer: ReportEventResponse = serde_json::from_value(answer)
            .map_err(|e| Error::Unreachable(format!("unreadable report answer: {e}")))?;
        if let NextStep::Task { task } = &answer.next {
            self.claimed.push(self.agent, task.clone());
        }
        if answer.disposition == Disposition::Rejected {
            return Err(Error::Rejected(
                answer
                    .reason
                    .clone()
                    .unwrap_or_else(|| "no reason given".into()),
            ));
        }
        Ok(answer)
    }

    /// `next_task`: the next task, claimed (reported started), with its context.
    pub async fn next_task(&self, input: NextTaskInput) -> Result<NextTaskOutput, Error> {
        let wait = Duration::from_secs(u64::from(input.wait_seconds.unwrap_or(10).min(30)));
        let deadline = Instant::now() + wait;
        loop {
            let Some(assignment) = self.take(deadline).await? else {
                return Ok(NextTaskOutput {
                    task: None,
                    message: "No task for you yet; call next_task again.".into(),
                });
            };
            match self.claim(&assignment).await {
                Ok(task) => {
                    return Ok(NextTaskOutput {
                        task: Some(task),
                        message:
                            "Started. Do the work, then call complete_task (or fail_task) with its \
                                  execution_id, task_id and attempt."
                                .into(),
                    });
                }
                // Superseded or cancelled meanwhile: not ours any more, take the next one.
                Err(Error::Rejected(reason)) => {
                    tracing::debug!(%reason, task = %assignment.task_id, "claim refused");
                }
                Err(e) => {
                    self.claimed.push(self.agent, assignment);
                    return Err(e);
                }
            }
            if Instant::now() >= deadline {
                return Ok(NextTaskOutput {
                    task: None,
                    message: "No task for you yet; call next_task again.".into(),
                });
            }
        }
    }

    /// A kept task, else one from the queue within `deadline`; cancels drop kept tasks.
    async fn take(&self, deadline: Instant) -> Result<Option<TaskAssignment>, Error> {
        loop {
            if let Some(task) = self.claimed.pop(self.agent) {
                return Ok(Some(task));
            }
            let left = deadline.saturating_duration_since(Instant::now()).as_secs();
            let work = self
                .call(
                    Verb::Get,
                    format!("/api/agents/{}/work?wait={left}", self.agent),
                    None,
                )
                .await?;
            if work.is_null() {
                return Ok(None);
            }
            match serde_json::from_value::<AgentMessage>(work)
                .map_err(|e| Error::Unreachable(format!("unreadable work item: {e}")))?
            {
                AgentMessage::Task(task) => return Ok(Some(task)),
                AgentMessage::Cancel(cancel) => {
                    self.claimed
                        .forget(self.agent, cancel.task_id, cancel.attempt);
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
            }
        }
    }

    async fn claim(&self, a: &TaskAssignment) -> Result<ClaimedTask, Error> {
        self.report(
            a.execution_id,
            a.task_id,
            a.attempt,
            AgentEventBody::TaskStarted {},
        )
        .await?;
        let outputs = self
            .call(
                Verb::Get,
                format!(
                    "/api/executions/{}/tasks/{}/dependencies",
                    a.execution_id, a.task_id
                ),
                None,
            )
            .await?;
        let dependency_outputs: Vec<DependencyOutput> = serde_json::from_value(outputs)
            .map_err(|e| Error::Unreachable(format!("unreadable dependency outputs: {e}")))?;
        Ok(ClaimedTask {
            execution_id: a.execution_id,
            task_id: a.task_id,
            attempt: a.attempt,
            plan_id: a.plan_id,
            wbs: a.wbs.clone(),
            title: a.title.clone(),
            description: a.description.clone(),
            capability: a.capability.clone(),
            acceptance_criteria: a.params.get("acceptance_criteria").cloned(),
            params: a.params.clone(),
            resources_needed: a.resources_needed.clone(),
            phase: a.phase.clone(),
            parent: a.parent.clone(),
            dependency_outputs,
            timeout_seconds: a.timeout_seconds,
        })
    }

    /// `report_progress`.
    pub async fn report_progress(&self, input: ReportProgressInput) -> Result<Value, Error> {
        let answer = self
            .report(
                input.execution_id,
                input.task_id,
                input.attempt,
                AgentEventBody::TaskProgress {
                    progress: input.progress,
                    message: input.message,
                },
            )
            .await?;
        Ok(summary(&answer, "Progress recorded; carry on."))
    }

    /// `complete_task`.
    pub async fn complete_task(&self, input: CompleteTaskInput) -> Result<Value, Error> {
        let answer = self
            .report(
                input.execution_id,
                input.task_id,
                input.attempt,
                AgentEventBody::TaskComplete {
                    output: Value::Object(input.output),
                },
            )
            .await?;
        Ok(summary(
            &answer,
            "Completed; call next_task for the next one.",
        ))
    }

    /// `fail_task`.
    pub async fn fail_task(&self, input: FailTaskInput) -> Result<Value, Error> {
        let answer = self
            .report(
                input.execution_id,
                input.task_id,
                input.attempt,
                AgentEventBody::TaskFailed {
                    error: input.error,
                    retryable: input.retryable.unwrap_or(true),
                    retry_after_seconds: input.retry_after_seconds,
                },
            )
            .await?;
        Ok(summary(
            &answer,
            "Failure recorded; call next_task for the next one.",
        ))
    }
}

/// What a report did, for the assistant.
fn summary(answer: &ReportEventResponse, message: &str) -> Value {
    let message = if answer.execution_status.is_terminal() {
        "Recorded; the execution is over."
    } else {
        message
    };
    json!({
        "event_id": answer.event_id,
        "disposition": answer.disposition,
        "execution_status": answer.execution_status,
        "execution_progress": answer.progress,
        "message": message,
    })
}
