//! `planexec exec tasks|events|reassign|retry|skip|complete`: an execution's tasks and
//! history, and the operator's actions on them.

use planexec_schemas::Id;
use planexec_schemas::api::{EventList, ReassignRequest, ResolveTaskRequest};
use planexec_schemas::command::ResolveAction;
use planexec_schemas::execution::{Execution, ExecutionTask};

use super::output::{Output, Table};
use crate::client::ApiClient;

pub async fn tasks(api: &ApiClient, id: Id, output: Output) -> anyhow::Result<()> {
    let tasks: Vec<ExecutionTask> = api.get(&format!("/api/executions/{id}/tasks")).await?;
    if output == Output::Json {
        return output.print_json(&tasks);
    }
    let mut table = Table::new(&["ID", "WBS", "STATUS", "ATTEMPT", "AGENT", "TITLE"]);
    let agent = |a: Option<Id>| a.map(|a| a.to_string()[..8].to_owned()).unwrap_or_default();
    for task in &tasks {
        table.row([
            task.id.to_string(),
            task.wbs.clone(),
            task.status.as_str().to_owned(),
            format!("{}/{}", task.attempt, task.max_attempts),
            agent(task.assigned_agent_id),
            task.title.clone(),
        ]);
        for sub in &task.subtasks {
            table.row([
                sub.id.to_string(),
                sub.wbs.clone(),
                sub.status.as_str().to_owned(),
                format!("{}/{}", sub.attempt, sub.max_attempts),
                agent(sub.assigned_agent_id),
                format!("  {}", sub.title),
            ]);
        }
    }
    table.print();
    Ok(())
}

pub async fn events(
    api: &ApiClient,
    id: Id,
    event_type: Option<String>,
    limit: u32,
    archived: bool,
    output: Output,
) -> anyhow::Result<()> {
    let mut path =
        format!("/api/executions/{id}/events?limit={limit}&disposition=all&archived={archived}");
    if let Some(kind) = event_type {
        path.push_str(&format!("&type={kind}"));
    }
    let list: EventList = api.get(&path).await?;
    if output == Output::Json {
        return output.print_json(&list.events);
    }
    let mut table = Table::new(&["SEQ", "TIME", "TYPE", "SOURCE", "TASK", "DISPOSITION"]);
    for e in &list.events {
        table.row([
            e.seq.to_string(),
            e.timestamp.format("%H:%M:%S%.3f").to_string(),
            e.event_type.as_str().to_owned(),
            format!("{:?}", e.source).to_lowercase(),
            e.task_id.map(|t| t.to_string()).unwrap_or_default(),
            e.disposition.as_str().to_owned(),
        ]);
    }
    table.print();
    Ok(())
}

pub async fn reassign(
    api: &ApiClient,
    id: Id,
    agent: Id,
    task: Option<Id>,
) -> anyhow::Result<Execution> {
    let request = ReassignRequest {
        agent_id: agent,
        task_id: task,
    };
    api.post(&format!("/api/executions/{id}/reassign"), &request)
        .await
}

pub async fn resolve(
    api: &ApiClient,
    id: Id,
    task: Id,
    action: ResolveAction,
    output: Option<serde_json::Value>,
) -> anyhow::Result<Execution> {
    api.post(
        &format!("/api/executions/{id}/tasks/{task}/resolve"),
        &ResolveTaskRequest { action, output },
    )
    .await
}
