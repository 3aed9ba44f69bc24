//! Parallel branches: three agents finish sooner than one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::support::{Process, Stack};

const TASKS: usize = 9;

/// A plan of independent email tasks: every task is a branch of its own.
fn branches() -> Value {
    let tasks: Vec<Value> = (0..TASKS)
        .map(|t| json!({"title": format!("Email breeder group {t}"), "description": "Send the invitation email to this group of breeders.", "capability": "send_email"}))
        .collect();
    json!({"title": "Invite the breeders", "phases": [{"title": "Invitations", "tasks": tasks}]})
}

fn at(event: &Value) -> DateTime<Utc> {
    event["timestamp"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("timestamp")
}

/// Runs the plan with `agents` Larrys (one task at a time each); returns the makespan (first
/// dispatch to last completion, by the recorded history) and the most leaves running at once.
async fn run_with(agents: usize) -> (Duration, usize) {
    let stack = Stack::up().await;
    let plan = stack.post("/api/plans", branches()).await;
    let plan = plan["id"].as_str().expect("plan id").to_owned();
    let mut larrys: Vec<Process> = Vec::new();
    let mut first_agent = None;
    for n in 0..agents {
        let (agent, token) = stack.register_larry(&format!("larry-{n}")).await;
        let log = stack.dir.path().join(format!("larry-{n}.jsonl"));
        // About 0.3 s per email (2 min × 0.0025), one at a time per agent.
        larrys.push(stack.larry(
            &agent,
            &token,
            "nats",
            &log,
            &[
                "--time-scale",
                "0.0025",
                "--failure-rate",
                "0",
                "--concurrency",
                "1",
                "--seed",
                "3",
            ],
        ));
        first_agent.get_or_insert(agent);
    }
    let request = json!({"plan_id": plan, "agent_id": first_agent, "max_parallel": 3, "routing": "any_capable"});
    let execution = stack.post("/api/executions", request).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut running: Vec<&mut Process> = larrys.iter_mut().collect();
    stack
        .until_completed(&execution, Duration::from_secs(120), &mut running)
        .await;
    let history = stack.history(&execution).await;
    let start = history
        .iter()
        .filter(|e| e["event_type"] == "task_dispatched")
        .map(at)
        .min()
        .expect("dispatches");
    let end = history
        .iter()
        .filter(|e| e["event_type"] == "task_complete")
        .map(at)
        .max()
        .expect("completions");
    // Intervals from each leaf's start to its completion, as the agents reported them.
    let mut marks: Vec<(DateTime<Utc>, i32)> = history
        .iter()
        .filter(|e| e["source"] == "agent" && e["disposition"] == "applied")
        .filter_map(|e| match e["event_type"].as_str() {
            Some("task_started") => Some((at(e), 1)),
            Some("task_complete") => Some((at(e), -1)),
            _ => None,
        })
        .collect();
    marks.sort();
    let (mut now, mut most) = (0, 0);
    for (_, step) in marks {
        now += step;
        most = most.max(now);
    }
    (
        (end - start).to_std().expect("positive"),
        usize::try_from(most).unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_parallel_branches_completes_sooner_with_three_agents_than_with_one() {
    let (alone, alone_most) = run_with(1).await;
    let (three, three_most) = run_with(3).await;
    eprintln!(
        "{TASKS} independent tasks: 1 agent {alone:?} (at most {alone_most} at once), 3 agents {three:?} (at most {three_most} at once)"
    );
    assert_eq!(alone_most, 1, "one agent working one task at a time");
    assert!(
        three_most >= 2,
        "three agents never worked at the same time"
    );
    assert!(
        three < alone.mul_f64(0.75),
        "three agents took {three:?}, one took {alone:?}"
    );
}
