//! The operator tools: the execution routes of the API, on the operator's token.

use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::mcp::{
    ChangeExecutionInput, ExecutionInput, ListExecutionsInput, ResolveTaskInput,
};
use serde_json::{Value, json};

use crate::api::{Api, ApiRequest, Verb};
use crate::error::Error;

/// The operator's token and the way to the API.
#[derive(Debug)]
pub struct OperatorTools<'a, A> {
    pub api: &'a A,
    pub token: &'a str,
}

/// A value as it appears in a query string (enums serialise to their wire names).
fn query_value(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

impl<A: Api> OperatorTools<'_, A> {
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

    /// `list_executions`.
    pub async fn list_executions(&self, input: ListExecutionsInput) -> Result<Value, Error> {
        let mut query = Vec::new();
        if let Some(status) = input.status {
            query.push(format!("status={}", query_value(&status)));
        }
        if let Some(plan) = input.plan_id {
            query.push(format!("plan_id={plan}"));
        }
        if let Some(agent) = input.agent_id {
            query.push(format!("agent_id={agent}"));
        }
        if let Some(limit) = input.limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = input.cursor.filter(|c| !c.is_empty()) {
            // Cursors are made of digits, hex, '.' and '-': nothing to escape, but refuse more.
            if !cursor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(Error::Arguments(
                    "cursor: not a cursor returned by list_executions".into(),
                ));
            }
            query.push(format!("cursor={cursor}"));
        }
        let path = if query.is_empty() {
            "/api/executions".to_owned()
        } else {
            format!("/api/executions?{}", query.join("&"))
        };
        self.call(Verb::Get, path, None).await
    }

    /// `get_execution`: the execution and its tasks.
    pub async fn get_execution(&self, input: ExecutionInput) -> Result<Value, Error> {
        let id = input.execution_id;
        let execution = self
            .call(Verb::Get, format!("/api/executions/{id}"), None)
            .await?;
        let tasks = self
            .call(Verb::Get, format!("/api/executions/{id}/tasks"), None)
            .await?;
        Ok(json!({ "execution": execution, "tasks": tasks }))
    }

    /// `pause_execution` (`PAUSED`) and `resume_execution` (`RUNNING`).
    pub async fn change(
        &self,
        input: ChangeExecutionInput,
        status: ExecutionStatus,
    ) -> Result<Value, Error> {
        self.call(
            Verb::Patch,
            format!("/api/executions/{}", input.execution_id),
            Some(json!({ "status": status, "reason": input.reason })),
        )
        .await
    }

    /// `resolve_task`.
    pub async fn resolve_task(&self, input: ResolveTaskInput) -> Result<Value, Error> {
        self.call(
            Verb::Post,
            format!(
                "/api/executions/{}/tasks/{}/resolve",
                input.execution_id, input.task_id
            ),
            Some(json!({ "action": input.action, "output": input.output })),
        )
        .await
    }
}
