//! `planexec exec`: create, inspect, pause, resume, cancel and watch executions.

use planexec_schemas::Id;
use planexec_schemas::api::{CreateExecutionRequest, ExecutionList, UpdateExecutionRequest};
use planexec_schemas::command::ResolveAction;
use planexec_schemas::execution::{Execution, ExecutionStatus, RoutingPolicy};

use super::output::{Output, Table};
use super::tasks;
pub use super::watch::watch;
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
        /// The same as `--output json`.
        #[arg(long)]
        json: bool,
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List executions, newest first.
    List {
        #[arg(long)]
        plan: Option<Id>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        agent: Option<Id>,
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The tasks and subtasks of an execution, in execution order.
    Tasks {
        id: Id,
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// An execution's history, newest first.
    Events {
        id: Id,
        /// Only events of this type (`task_complete`, ...).
        #[arg(long = "type")]
        event_type: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Read the archive: the history of an execution that ended longer ago than the
        /// retention (`planexec exec status` shows when it moved).
        #[arg(long)]
        archived: bool,
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Move one task (--task), or every unfinished task, to another agent.
    Reassign {
        id: Id,
        #[arg(long)]
        agent: Id,
        #[arg(long)]
        task: Option<Id>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Retry a failed task with a fresh attempt budget.
    Retry {
        id: Id,
        task: Id,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Skip a task: it counts as done and its dependants may run.
    Skip {
        id: Id,
        task: Id,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Complete a task by hand: it counts as done with the given result; its dependants may run.
    Complete {
        id: Id,
        task: Id,
        /// The task's output, a JSON value (default `{}`).
        #[arg(long, value_parser = parse_json)]
        result: Option<serde_json::Value>,
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

fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
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
            say!("execution {} created ({})", execution.id, execution.status);
            if follow {
                print_status(&watch(&api, execution.id).await?);
            }
        }
        Command::Status {
            id,
            json,
            output,
            client: args,
        } => {
            let execution: Execution = client(&args)?.get(&format!("/api/executions/{id}")).await?;
            if json || output == Output::Json {
                Output::Json.print_json(&execution)?;
            } else {
                print_status(&execution);
            }
        }
        Command::List {
            plan,
            status,
            agent,
            output,
            client: args,
        } => {
            let mut query = vec!["limit=100".to_owned()];
            query.extend(plan.map(|p| format!("plan_id={p}")));
            query.extend(agent.map(|a| format!("agent_id={a}")));
            query.extend(status.map(|s| format!("status={}", s.to_ascii_uppercase())));
            let list: ExecutionList = client(&args)?
                .get(&format!("/api/executions?{}", query.join("&")))
                .await?;
            if output == Output::Json {
                return output.print_json(&list.executions);
            }
            let mut table = Table::new(&["ID", "STATUS", "PROGRESS", "PLAN", "AGENT", "UPDATED"]);
            for e in list.executions {
                table.row([
                    e.id.to_string(),
                    e.status.as_str().to_owned(),
                    format!("{:.1}%", e.progress),
                    e.plan_id.to_string(),
                    e.agent_id.to_string(),
                    e.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                ]);
            }
            table.print();
        }
        Command::Tasks {
            id,
            output,
            client: args,
        } => tasks::tasks(&client(&args)?, id, output).await?,
        Command::Events {
            id,
            event_type,
            limit,
            archived,
            output,
            client: args,
        } => tasks::events(&client(&args)?, id, event_type, limit, archived, output).await?,
        Command::Reassign {
            id,
            agent,
            task,
            client: args,
        } => print_status(&tasks::reassign(&client(&args)?, id, agent, task).await?),
        Command::Retry { id, task, client } => {
            resolve(&client, id, task, ResolveAction::Retry, None).await?
        }
        Command::Skip { id, task, client } => {
            resolve(&client, id, task, ResolveAction::Skip, None).await?
        }
        Command::Complete {
            id,
            task,
            result,
            client,
        } => resolve(&client, id, task, ResolveAction::Complete, result).await?,
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
            print_status(&watch(&client(&args)?, id).await?);
        }
    }
    Ok(())
}

async fn resolve(
    args: &ClientArgs,
    id: Id,
    task: Id,
    action: ResolveAction,
    output: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    print_status(&tasks::resolve(&client(args)?, id, task, action, output).await?);
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

pub fn print_status(e: &Execution) {
    say!(
        "execution {}  {}  {:.1}% ({} of {} tasks)",
        e.id,
        e.status,
        e.progress,
        e.leaves_done,
        e.leaves_total
    );
    if let Some(task) = &e.current_task {
        say!("  current task {} {}", task.wbs, task.title);
    }
    if let Some(reason) = e.blocked_reason {
        say!(
            "  blocked: {} — {}",
            reason.as_str(),
            e.blocked_detail.as_deref().unwrap_or("")
        );
    }
    if let Some(at) = e.events_archived_at {
        say!("  events archived at {at} (planexec exec events --archived)");
    }
}
