//! The operator's terminal: what the dashboard does, done with `planexec agent|plan|exec`.

use serde_json::{Value, json};

use super::support::{self, Stack};

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn the_cli_lists_agents_and_resolves_tasks_by_hand() {
    let stack = Stack::up().await;
    let registered = stack.cli(&[
        "agent",
        "register",
        "--name",
        "pat",
        "--role",
        "person",
        "--capabilities",
        "send_email,draft_document,document_findings,human_review,manage_csv,conduct_interview,\
         make_phone_call,search_google_maps,schedule_calendar_event",
    ]);
    let agents = parse(&stack.cli(&["agent", "list", "--output", "json"]));
    let pat = agents
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "pat"))
        .unwrap_or_else(|| panic!("pat is listed: {agents}"));
    let pat_id = pat["id"].as_str().expect("id").to_owned();
    assert!(registered.contains(&pat_id), "{registered}");
    assert_eq!(pat["role"], "person");
    let table = stack.cli(&["agent", "list"]);
    assert!(table.starts_with("ID") && table.contains("pat"), "{table}");
    let shown = stack.cli(&["agent", "show", &pat_id]);
    assert!(
        shown.contains("pat") && shown.contains("human_review"),
        "{shown}"
    );
    assert_eq!(
        parse(&stack.cli(&["agent", "show", &pat_id, "--output", "json"]))["id"],
        json!(pat_id)
    );

    // Nobody runs as pat: the person does the work and the operator records it.
    let fixture = planexec_harness::fixtures_dir().join("planexe/dog_breeder_prospecting");
    let summary = parse(&stack.cli(&[
        "plan",
        "import",
        fixture.to_str().expect("utf-8 path"),
        "--json",
    ]));
    let plan = summary["id"].as_str().expect("plan id");
    let execution = stack
        .post(
            "/api/executions",
            json!({"plan_id": plan, "agent_id": pat_id}),
        )
        .await;
    let execution = execution["id"].as_str().expect("id").to_owned();
    // Created first, then started by the coordinator: its leaves exist once it runs.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = stack.get(&format!("/api/executions/{execution}")).await;
        if now["status"] == "RUNNING" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never started: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut done: usize = 0;
    loop {
        let tasks = parse(&stack.cli(&["exec", "tasks", &execution, "--output", "json"]));
        let leaves: Vec<Value> = tasks
            .as_array()
            .expect("tasks")
            .iter()
            .flat_map(|t| match t["subtasks"].as_array() {
                Some(subs) if !subs.is_empty() => subs.clone(),
                _ => vec![t.clone()],
            })
            .collect();
        let Some(next) = leaves
            .iter()
            .find(|l| l["status"] == "dispatched" || l["status"] == "ready")
        else {
            break;
        };
        let task = next["id"].as_str().expect("task id");
        if done.is_multiple_of(2) {
            let result = json!({"summary": format!("done by pat ({})", next["wbs"])}).to_string();
            stack.cli(&["exec", "complete", &execution, task, "--result", &result]);
        } else {
            stack.cli(&["exec", "skip", &execution, task]);
        }
        done += 1;
    }
    let finished = stack.get(&format!("/api/executions/{execution}")).await;
    assert_eq!(finished["status"], "COMPLETED", "{finished}");
    assert_eq!(finished["leaves_done"], json!(done));
    let history = stack.history(&execution).await;
    let marked: Vec<&Value> = history
        .iter()
        .filter(|e| e["event_type"] == "task_marked_complete")
        .collect();
    assert_eq!(marked.len(), done.div_ceil(2), "one per completed task");
    assert!(
        marked.iter().all(|e| e["output"]["output"]["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("done by pat"))),
        "{marked:?}"
    );
}

#[tokio::test]
async fn the_cli_finds_the_operator_token_from_any_folder() {
    let stack = Stack::up().await;
    // No token in the environment, and not run where `up` keeps its data folder: the CLI
    // reads the copy `up` left in the user's config folder.
    let saved = std::fs::read_to_string(stack.dir.path().join("config/planexec/operator-token"))
        .expect("up saved the token for the CLI");
    assert_eq!(saved.trim(), support::OPERATOR);
    let agents = parse(&stack.cli_with(&["agent", "list", "--output", "json"], &[]));
    assert!(agents.as_array().is_some(), "agent list answered: {agents}");
}

#[tokio::test]
async fn printing_into_a_closed_pipe_ends_quietly() {
    let stack = Stack::up().await;
    stack.cli(&[
        "agent",
        "register",
        "--name",
        "sam",
        "--role",
        "person",
        "--capabilities",
        "send_email",
    ]);
    let agents = parse(&stack.cli(&["agent", "list", "--output", "json"]));
    let id = agents[0]["id"].as_str().expect("an agent").to_owned();
    // `planexec agent rotate ID | head -0`: the rotation happens; the output has no reader.
    let output = stack.cli_into_closed_pipe(&["agent", "rotate", &id]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}: {stderr}",
        output.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
