//! The prospecting plan, run by Larry over NATS and over HTTP polling.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Value, json};

use super::support::{Stack, json_lines, wbs_key};

/// The leaves of an execution in execution order, as `(id, wbs)`.
async fn leaves(stack: &Stack, execution: &str) -> Vec<(String, String)> {
    let tasks = stack
        .get(&format!("/api/executions/{execution}/tasks"))
        .await;
    let mut leaves = Vec::new();
    for task in tasks.as_array().expect("tasks") {
        let subtasks = task["subtasks"].as_array().expect("subtasks");
        if subtasks.is_empty() {
            leaves.push((
                task["id"].as_str().expect("id").to_owned(),
                task["wbs"].as_str().expect("wbs").to_owned(),
            ));
        }
        for sub in subtasks {
            leaves.push((
                sub["id"].as_str().expect("id").to_owned(),
                sub["wbs"].as_str().expect("wbs").to_owned(),
            ));
        }
    }
    leaves
}

async fn run_prospecting_plan(transport: &str) {
    let stack = Stack::up().await;
    let fixture = planexec_harness::fixtures_dir().join("planexe/dog_breeder_prospecting");
    let fixture = fixture.to_str().expect("utf-8 path");
    let summary: Value = serde_json::from_str(&stack.cli(&["plan", "import", fixture, "--json"]))
        .expect("summary JSON");
    assert_eq!(
        summary["needs_review"], false,
        "the prospecting plan is ready for Larry: {summary}"
    );
    assert!(summary["confidence"].as_f64().expect("confidence") >= 0.7);
    let plan = summary["id"]
        .as_str()
        .expect("imported with an id")
        .to_owned();

    let (agent, token) = stack.register_larry(&format!("larry-{transport}")).await;
    let execution = stack
        .post(
            "/api/executions",
            json!({"plan_id": plan, "agent_id": agent}),
        )
        .await;
    let execution = execution["id"].as_str().expect("id").to_owned();
    let log = stack.dir.path().join(format!("events-{transport}.jsonl"));
    let mut larry = stack.larry(
        &agent,
        &token,
        transport,
        &log,
        &[
            "--time-scale",
            "0.0001",
            "--failure-rate",
            "0",
            "--seed",
            "7",
        ],
    );
    let done = stack
        .until_completed(&execution, Duration::from_secs(180), &mut [&mut larry])
        .await;
    assert_eq!(done["progress"], 100.0);
    assert!(
        larry.stop(),
        "the simulator stops cleanly on SIGTERM:\n{}",
        larry.output()
    );

    // Tasks complete in WBS order.
    let leaves = leaves(&stack, &execution).await;
    assert_eq!(
        leaves.len() as u64,
        summary["leaves"].as_u64().expect("leaves")
    );
    let wbs_of: HashMap<&str, &str> = leaves
        .iter()
        .map(|(id, wbs)| (id.as_str(), wbs.as_str()))
        .collect();
    let history = stack.history(&execution).await;
    let completed: Vec<&str> = history
        .iter()
        .filter(|e| e["event_type"] == "task_complete" && e["disposition"] == "applied")
        .map(|e| wbs_of[e["task_id"].as_str().expect("task")])
        .collect();
    let in_order: Vec<&str> = leaves.iter().map(|(_, wbs)| wbs.as_str()).collect();
    assert_eq!(completed, in_order, "tasks completed out of order");
    let mut by_wbs = in_order.clone();
    by_wbs.sort_by_key(|w| wbs_key(w));
    assert_eq!(
        in_order, by_wbs,
        "the prospecting plan runs in WBS order 1.1 → 1.2 → …"
    );
    assert_eq!(
        history.last().map(|e| e["output"]["to"].clone()),
        Some(json!("COMPLETED"))
    );

    // The event log holds every task's events, and the database history matches it.
    let lines = json_lines(&log);
    assert!(
        lines.iter().all(|l| l["direction"] != "lost"),
        "the simulator lost events"
    );
    let sent: Vec<&Value> = lines.iter().filter(|l| l["direction"] == "out").collect();
    for (id, wbs) in &leaves {
        let kinds: BTreeSet<&str> = sent
            .iter()
            .filter(|l| l["task_id"] == id.as_str())
            .filter_map(|l| l["event_type"].as_str())
            .collect();
        for kind in ["task_started", "task_progress", "task_complete"] {
            assert!(
                kinds.contains(kind),
                "the log has no {kind} for {wbs}: {kinds:?}"
            );
        }
    }
    let logged: BTreeSet<(String, String)> = sent
        .iter()
        .map(|l| {
            (
                l["event_id"].as_str().expect("event id").to_owned(),
                l["event_type"].as_str().expect("type").to_owned(),
            )
        })
        .collect();
    let recorded: BTreeSet<(String, String)> = history
        .iter()
        .filter(|e| e["source"] == "agent")
        .map(|e| {
            (
                e["id"].as_str().expect("id").to_owned(),
                e["event_type"].as_str().expect("type").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        logged, recorded,
        "the database history and the simulator's event log differ"
    );
    assert!(
        history
            .iter()
            .filter(|e| e["source"] == "agent")
            .all(|e| e["disposition"] == "applied")
    );
    let received = lines
        .iter()
        .filter(|l| l["direction"] == "in" && l["event_type"] == "task")
        .count();
    assert_eq!(received, leaves.len(), "each task was handed to Larry once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn larry_runs_the_prospecting_plan_over_nats_in_wbs_order() {
    run_prospecting_plan("nats").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn larry_runs_the_prospecting_plan_over_http_polling_in_wbs_order() {
    run_prospecting_plan("http").await;
}
