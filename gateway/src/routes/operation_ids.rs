//! The `operationId` of every operation, in one table, so that clients generated from the
//! OpenAPI document get stable, meaningful method names. A route missing here gets no id, and
//! the OpenAPI test fails naming it: add it when adding a route.

use aide::openapi::{OpenApi, Operation, ReferenceOr};

/// `(method, path, operationId)`.
const IDS: &[(&str, &str, &str)] = &[
    ("get", "/healthz", "health"),
    ("get", "/readyz", "ready"),
    ("get", "/api/agents", "listAgents"),
    ("post", "/api/agents", "registerAgent"),
    ("get", "/api/agents/{agent_id}", "getAgent"),
    ("patch", "/api/agents/{agent_id}", "updateAgent"),
    ("delete", "/api/agents/{agent_id}", "deleteAgent"),
    (
        "post",
        "/api/agents/{agent_id}/token",
        "rotateAgentCredentials",
    ),
    ("post", "/api/agents/{agent_id}/heartbeat", "agentHeartbeat"),
    ("get", "/api/agents/{agent_id}/work", "pollWork"),
    ("get", "/api/executions", "listExecutions"),
    ("post", "/api/executions", "createExecution"),
    ("get", "/api/executions/{execution_id}", "getExecution"),
    ("patch", "/api/executions/{execution_id}", "updateExecution"),
    (
        "get",
        "/api/executions/{execution_id}/tasks",
        "listExecutionTasks",
    ),
    (
        "post",
        "/api/executions/{execution_id}/reassign",
        "reassignTasks",
    ),
    (
        "post",
        "/api/executions/{execution_id}/tasks/{task_id}/resolve",
        "resolveTask",
    ),
    (
        "get",
        "/api/executions/{execution_id}/tasks/{task_id}/dependencies",
        "getTaskDependencies",
    ),
    ("get", "/api/executions/{execution_id}/events", "listEvents"),
    (
        "post",
        "/api/executions/{execution_id}/events",
        "reportEvent",
    ),
    ("get", "/api/plans", "listPlans"),
    ("post", "/api/plans", "importPlan"),
    ("get", "/api/plans/{plan_id}", "getPlan"),
    ("post", "/api/plans/{plan_id}/approve", "approvePlan"),
    ("put", "/api/plans/{plan_id}/tasks/{task}", "updatePlanTask"),
    (
        "put",
        "/api/plans/{plan_id}/decomposition",
        "replaceDecomposition",
    ),
    ("get", "/api/tasks/poll/{taskType}", "conductorPoll"),
    (
        "get",
        "/api/tasks/poll/batch/{taskType}",
        "conductorBatchPoll",
    ),
    ("post", "/api/tasks", "conductorUpdateTask"),
    ("post", "/api/tasks/update-v2", "conductorUpdateTaskV2"),
    ("post", "/api/tasks/{taskId}/log", "conductorLog"),
    ("post", "/api/token", "conductorToken"),
    ("get", "/api/admin/metrics", "adminMetrics"),
    ("get", "/api/webhooks", "listWebhooks"),
    ("post", "/api/webhooks", "createWebhook"),
    ("delete", "/api/webhooks/{webhook_id}", "deleteWebhook"),
    (
        "get",
        "/api/webhooks/{webhook_id}/deliveries",
        "listWebhookDeliveries",
    ),
];

fn id_of(method: &str, path: &str) -> Option<&'static str> {
    IDS.iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, id)| *id)
}

/// Sets the `operationId` of every operation of `api` that the table names.
pub(crate) fn name_operations(api: &mut OpenApi) {
    let Some(paths) = api.paths.as_mut() else {
        return;
    };
    for (path, item) in paths.paths.iter_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        let operations: [(&str, &mut Option<Operation>); 8] = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("options", &mut item.options),
            ("head", &mut item.head),
            ("patch", &mut item.patch),
            ("trace", &mut item.trace),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation
                && operation.operation_id.is_none()
            {
                operation.operation_id = id_of(method, path).map(str::to_owned);
            }
        }
    }
}
