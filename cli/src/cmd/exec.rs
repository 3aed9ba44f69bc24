//! `planexec exec`: create, inspect, pause, resume, cancel and watch executions.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use planexec_schemas::Id;
use planexec_schemas::api::{
    CreateExecutionRequest, EventList, ExecutionList, UpdateExecutionRequest,
};
use planexec_schemas::event::{EventSource, ExecutionEvent};
use planexec_schemas::execution::{Execution, ExecutionStatus, ExecutionTask, RoutingPolicy};

use crate::client::ApiClient;
use crate::settings::ClientArgs;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an execution of a plan for an agent.
    Create {
        #[arg(long)]
        plan: Id,
        #[arg(long)]
        agent: Id,
        /// Leaves in flight at once (default 1: strict WBS order).
        #[arg(long)]
        max_parallel: Option<u32>,
        /// `agent` (only the execution's agent) or `any_capable`.
        #[arg(long, value_parser = parse_routing)]
        routing: Option<RoutingPolicy>,
        /// Follow it live until it ends.
        #[arg(long)]
        watch: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show an execution.
    Status {
        id: Id,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List executions, newest first.
    List {
        #[arg(long)]
        plan: Option<Id>,
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Pause: nothing new is dispatched; running tasks may finish.
    Pause {
        id: Id,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Resume a paused execution, or retry the failed tasks of a blocked one.
    Resume {
        id: Id,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Cancel: open tasks are cancelled and agents told to stop.
    Cancel {
        id: Id,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Follow an execution live until it ends.
    Watch {
        id: Id,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn parse_routing(text: &str) -> Result<RoutingPolicy, String> {
    RoutingPolicy::parse(text).ok_or_else(|| "use `agent` or `any_capable`".into())
}

fn client(args: &ClientArgs) -> anyhow::Result<ApiClient> {
    ApiClient::new(&args.gateway, args.token()?)
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Create {
            plan,
            agent,
            max_parallel,
            routing,
            watch: follow,
            client: args,
        } => {
            let api = client(&args)?;
            let request = CreateExecutionRequest {
                plan_id: plan,
                agent_id: agent,
                max_parallel,
                routing,
            };
            let execution: Execution = api.post("/api/executions", &request).await?;
            println!("execution {} created ({})", execution.id, execution.status);
            if follow {
                watch(&api, execution.id).await?;
            }
        }
        Command::Status {
            id,
            json,
            client: args,
        } => {
            let execution: Execution = client(&args)?.get(&format!("/api/executions/{id}")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&execution)?);
            } else {
                print_status(&execution);
            }
        }
        Command::List {
            plan,
            status,
            client: args,
        } => {
            let mut query = vec!["limit=100".to_owned()];
            query.extend(plan.map(|p| format!("plan_id={p}")));
            query.extend(status.map(|s| format!("status={}", s.to_ascii_uppercase())));
            let list: ExecutionList = client(&args)?
                .get(&format!("/api/executions?{}", query.join("&")))
                .await?;
            for e in list.executions {
                println!(
                    "{}  {:<12} {:>5.1}%  plan {}  agent {}",
                    e.id,
                    e.status.as_str(),
                    e.progress,
                    e.plan_id,
                    e.agent_id
                );
            }
        }
        Command::Pause { id, client: args } => {
            set(&client(&args)?, id, ExecutionStatus::Paused, None).await?
        }
        Command::Resume { id, client: args } => {
            set(&client(&args)?, id, ExecutionStatus::Running, None).await?
        }
        Command::Cancel {
            id,
            reason,
            client: args,
        } => set(&client(&args)?, id, ExecutionStatus::Cancelled, reason).await?,
        Command::Watch { id, client: args } => {
            watch(&client(&args)?, id).await?;
        }
    }
    Ok(())
}

async fn set(
    api: &ApiClient,
    id: Id,
    status: ExecutionStatus,
    reason: Option<String>,
) -> anyhow::Result<()> {
    let execution: Execution = api
        .patch(
            &format!("/api/executions/{id}"),
            &UpdateExecutionRequest { status, reason },
        )
        .await?;
    print_status(&execution);
    Ok(())
}

fn print_status(e: &Execution) {
    println!(
        "execution {}  {}  {:.1}% ({} of {} tasks)",
        e.id, e.status, e.progress, e.leaves_done, e.leaves_total
    );
    if let Some(task) = &e.current_task {
        println!("  current task {} {}", task.wbs, task.title);
    }
    if let Some(reason) = e.blocked_reason {
        println!(
            "  blocked: {} — {}",
            reason.as_str(),
            e.blocked_detail.as_deref().unwrap_or("")
        );
    }
}

/// WBS number and title of every task and subtask of an execution, by id.
async fn task_names(api: &ApiClient, id: Id) -> anyhow::Result<HashMap<Id, String>> {
    let tasks: Vec<ExecutionTask> = api.get(&format!("/api/executions/{id}/tasks")).await?;
    let mut names = HashMap::new();
    for task in tasks {
        for sub in &task.subtasks {
            names.insert(sub.id, format!("{} {}", sub.wbs, sub.title));
        }
        names.insert(task.id, format!("{} {}", task.wbs, task.title));
    }
    Ok(names)
}

fn describe(event: &ExecutionEvent, names: &HashMap<Id, String>) -> String {
    let who = match event.source {
        EventSource::Agent => "agent",
        EventSource::Coordinator => "coordinator",
    };
    let mut line = format!(
        "{} {:<11} {:<24}",
        event.timestamp.format("%H:%M:%S%.3f"),
        who,
        event.event_type.as_str()
    );
    if let Some(task) = event.task_id {
        line.push_str(names.get(&task).map_or("", String::as_str));
    }
    if let Some(attempt) = event.attempt.filter(|a| *a > 1) {
        line.push_str(&format!(" (attempt {attempt})"));
    }
    if let Some(reason) = &event.reason {
        line.push_str(&format!(" rejected: {reason}"));
    }
    if let Some(to) = event.output.get("to").and_then(|v| v.as_str()) {
        line.push_str(&format!("→ {to}"));
    }
    line
}

/// Follows an execution until it ends: a progress bar, the current task, the newest events.
pub async fn watch(api: &ApiClient, id: Id) -> anyhow::Result<Execution> {
    let terminal = std::io::stdout().is_terminal();
    let bar = if terminal {
        ProgressBar::new(1)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} tasks {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut seen: HashSet<Id> = HashSet::new();
    let mut last_status = None;
    let mut names = HashMap::new();
    loop {
        let execution: Execution = api.get(&format!("/api/executions/{id}")).await?;
        let events: EventList = api
            .get(&format!(
                "/api/executions/{id}/events?limit=20&disposition=all"
            ))
            .await?;
        if events
            .events
            .iter()
            .any(|e| e.task_id.is_some_and(|t| !names.contains_key(&t)))
        {
            names = task_names(api, id).await.unwrap_or(names);
        }
        for event in events.events.iter().rev().filter(|e| seen.insert(e.id)) {
            if terminal {
                bar.println(describe(event, &names));
            } else {
                println!("{}", describe(event, &names));
            }
        }
        bar.set_length(u64::from(execution.leaves_total.max(1)));
        bar.set_position(u64::from(execution.leaves_done));
        let current = execution
            .current_task
            .as_ref()
            .map(|t| format!("{} {}", t.wbs, t.title))
            .unwrap_or_default();
        bar.set_message(format!("{} {current}", execution.status));
        if last_status != Some(execution.status) && !terminal {
            println!("status {} ({:.1}%)", execution.status, execution.progress);
        }
        last_status = Some(execution.status);
        if execution.status.is_terminal() {
            bar.finish_with_message(format!("{}", execution.status));
            print_status(&execution);
            return Ok(execution);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
