//! Larry against a real coordinator on real nats-server and PostgreSQL.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use planexec_schemas::Id;
use planexec_schemas::event::EventType;
use planexec_schemas::execution::ExecutionStatus;
use planexec_sim::{SimIdentity, SimOptions, SimTransport};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use support::Stack;

fn read_log(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the event log exists")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

/// Registers Larry through the simulator and returns options that run him as that agent.
async fn registered(options: SimOptions) -> (Id, SimOptions) {
    let larry = planexec_sim::register(&options, "larry")
        .await
        .expect("Larry registers over NATS");
    let options = SimOptions {
        identity: SimIdentity::Existing {
            agent_id: larry.agent.id,
            token: larry.token,
        },
        ..options
    };
    assert!(
        larry.agent.capabilities.iter().any(|c| c == "human_review"),
        "{:?}",
        larry.agent.capabilities
    );
    (larry.agent.id, options)
}

#[tokio::test]
async fn larry_runs_a_plan_to_completed_over_nats_and_logs_every_event_in_order() {
    let stack = Stack::new().await;
    let plan = stack.breeder_plan().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("larry.jsonl");
    let mut options = stack.sim_options();
    options.failure_rate = 0.3;
    options.event_log = Some(log.clone());
    let (agent, options) = registered(options).await;
    let shutdown = CancellationToken::new();
    let larry = tokio::spawn(planexec_sim::run(options, shutdown.clone()));

    let execution = stack.execute(plan, agent, 3).await;
    let done = stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    assert_eq!(done.leaves_done, 9);
    shutdown.cancel();
    let report = tokio::time::timeout(Duration::from_secs(30), larry)
        .await
        .expect("Larry stops within 30 s")
        .expect("no panic")
        .expect("Larry ran without error");
    assert_eq!(report.agent.events_lost, 0);
    assert_eq!(report.seed, 7);

    let history = stack
        .agent_history(execution.id, report.agent.events_delivered)
        .await;
    let lines = read_log(&log);
    assert_eq!(lines.len() as u64, report.event_log_lines);
    let out: Vec<&Value> = lines.iter().filter(|l| l["direction"] == "out").collect();
    assert_eq!(out.len(), history.len(), "one line per event recorded");
    assert!(lines.iter().all(|l| l["direction"] != "lost"));

    // Per task, the log holds the same events, in the same order, as the database.
    let mut logged: HashMap<String, Vec<(String, String, u64)>> = HashMap::new();
    for line in &out {
        logged
            .entry(line["task_id"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push((
                line["event_id"].as_str().unwrap_or_default().to_owned(),
                line["event_type"].as_str().unwrap_or_default().to_owned(),
                line["attempt"].as_u64().unwrap_or_default(),
            ));
    }
    let mut recorded: HashMap<String, Vec<(String, String, u64)>> = HashMap::new();
    for event in &history {
        assert_eq!(event.disposition.as_str(), "applied", "{event:?}");
        recorded
            .entry(event.task_id.map(|t| t.to_string()).unwrap_or_default())
            .or_default()
            .push((
                event.id.to_string(),
                event.event_type.as_str().to_owned(),
                u64::from(event.attempt.unwrap_or_default()),
            ));
    }
    assert_eq!(logged, recorded);

    // Every leaf reported progress, and every outgoing line names its WBS number.
    let tasks = planexec_store::executions::read::tasks(&stack.pool, execution.id)
        .await
        .expect("tasks");
    let leaves: Vec<(Id, String)> = tasks
        .iter()
        .flat_map(|t| {
            let own = t.is_leaf.then(|| (t.id, t.wbs.clone()));
            own.into_iter()
                .chain(t.subtasks.iter().map(|s| (s.id, s.wbs.clone())))
        })
        .collect();
    assert_eq!(leaves.len(), 9);
    for (leaf, wbs) in &leaves {
        let events = &logged[&leaf.to_string()];
        assert!(
            events.iter().any(|(_, kind, _)| kind == "task_progress"),
            "{wbs} reported no progress"
        );
        assert_eq!(
            events.last().map(|(_, kind, _)| kind.as_str()),
            Some("task_complete")
        );
    }
    for line in &out {
        let wbs = line["wbs"].as_str().expect("a WBS number");
        assert!(leaves.iter().any(|(_, w)| w == wbs), "{wbs}");
    }
    let assignments = lines
        .iter()
        .filter(|l| l["direction"] == "in" && l["event_type"] == "task")
        .count();
    let starts = history
        .iter()
        .filter(|e| e.event_type == EventType::TaskStarted)
        .count();
    assert_eq!(assignments, starts, "each assignment received was started");
    let maps = history
        .iter()
        .find(|e| {
            e.event_type == EventType::TaskComplete && e.output["output"]["results"].is_array()
        })
        .expect("the maps search completed");
    assert!(maps.output["output"]["results"][0]["phone"].is_string());
}

#[tokio::test]
async fn larry_registers_through_the_gateway_and_runs_a_plan_over_http() {
    let stack = Stack::new().await;
    let gateway = stack.gateway().await;
    let plan = stack.breeder_plan().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("larry-http.jsonl");
    let options = SimOptions {
        transport: SimTransport::Http,
        gateway_url: Some(gateway),
        operator_token: Some(support::OPERATOR.into()),
        event_log: Some(log.clone()),
        failure_rate: 0.2,
        ..stack.sim_options()
    };
    let (agent, options) = registered(options).await;
    let shutdown = CancellationToken::new();
    let larry = tokio::spawn(planexec_sim::run(options, shutdown.clone()));
    let execution = stack.execute(plan, agent, 2).await;
    stack
        .until_status(execution.id, ExecutionStatus::Completed)
        .await;
    shutdown.cancel();
    let report = tokio::time::timeout(Duration::from_secs(30), larry)
        .await
        .expect("Larry stops within 30 s")
        .expect("no panic")
        .expect("Larry ran without error");
    assert_eq!(report.agent.events_lost, 0);
    let history = stack
        .agent_history(execution.id, report.agent.events_delivered)
        .await;
    let out = read_log(&log)
        .into_iter()
        .filter(|l| l["direction"] == "out")
        .count();
    assert_eq!(out, history.len());
}

#[tokio::test]
async fn larry_hands_his_task_back_when_shut_down_in_the_middle_of_it() {
    let stack = Stack::new().await;
    let plan = stack.breeder_plan().await;
    let mut options = stack.sim_options();
    // Real time: the first task (a maps search) takes about a minute, longer than the test
    // waits; and a grace longer than the test waits, so only Larry's own release ends it.
    options.time_scale = 1.0;
    options.shutdown_grace = Some(Duration::from_secs(60));
    let (agent, options) = registered(options).await;
    let shutdown = CancellationToken::new();
    let larry = tokio::spawn(planexec_sim::run(options, shutdown.clone()));
    let execution = stack.execute(plan, agent, 1).await;
    stack
        .until(execution.id, "working on its first task", |e| {
            e.current_task.is_some()
        })
        .await;
    stack.agent_history(execution.id, 1).await;

    shutdown.cancel();
    let report = tokio::time::timeout(Duration::from_secs(10), larry)
        .await
        .expect("Larry stops at once, not after the grace")
        .expect("no panic")
        .expect("Larry ran without error");
    assert_eq!(report.agent.tasks_released, 1);
    let history = stack
        .agent_history(execution.id, report.agent.events_delivered)
        .await;
    assert_eq!(
        history.last().map(|e| e.event_type),
        Some(EventType::TaskReleased)
    );
}

#[tokio::test]
async fn larry_stops_cleanly_when_shut_down_while_idle() {
    let stack = Stack::new().await;
    let (_, options) = registered(stack.sim_options()).await;
    let shutdown = CancellationToken::new();
    let larry = tokio::spawn(planexec_sim::run(options, shutdown.clone()));
    shutdown.cancel();
    let report = tokio::time::timeout(Duration::from_secs(10), larry)
        .await
        .expect("Larry stops within 10 s")
        .expect("no panic")
        .expect("Larry ran without error");
    assert_eq!(report.agent.tasks_completed, 0);
}
