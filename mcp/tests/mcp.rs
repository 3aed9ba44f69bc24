//! The MCP server against a real stack (PostgreSQL, NATS, a coordinator, a gateway), driven by
//! the official Rust SDK's client: the handshake, `tools/list`, and `tools/call` until the
//! execution is COMPLETED, over a byte stream (as `planexec mcp` serves stdio) and over
//! streamable HTTP at the gateway's `/mcp`.

use std::sync::Arc;
use std::time::Duration;

use planexec_mcp::server::Credentials;
use planexec_mcp::{HttpApi, PlanexecMcp};
use planexec_schemas::Id;
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::plan::{DocumentDependency, DocumentTask};
use planexec_test_stack::{OPERATOR, Stack};
use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ServerHandler, ServiceExt};
use serde_json::{Value, json};

fn task(key: &str, depends_on: &[&str]) -> DocumentTask {
    DocumentTask {
        key: Some(key.into()),
        title: format!("Task {key}"),
        description: format!("Write the {key} letter."),
        capability: Some("send_email".into()),
        params: json!({ "acceptance_criteria": format!("{key} is sent") }),
        duration_days: None,
        resources_needed: vec![],
        depends_on: depends_on
            .iter()
            .map(|k| DocumentDependency {
                key: (*k).into(),
                explanation: None,
            })
            .collect(),
        timeout_seconds: None,
        max_attempts: None,
        subtasks: vec![],
    }
}

/// A registered agent (over the API) with an execution of a three-task chain to do.
struct Work {
    gateway: String,
    token: String,
    execution: Id,
}

async fn work(stack: &Stack) -> Work {
    let gateway = stack.gateway().await;
    let http = planexec_tls::client();
    let agent: Value = http
        .post(format!("{gateway}/api/agents"))
        .bearer_auth(OPERATOR)
        .json(&json!({ "name": "assistant", "capabilities": ["send_email"] }))
        .send()
        .await
        .expect("registration sent")
        .json()
        .await
        .expect("registration answered");
    let agent_id: Id = serde_json::from_value(agent["id"].clone()).expect("agent id");
    let plan = stack
        .store_tasks(
            "MCP plan",
            vec![task("a", &[]), task("b", &["a"]), task("c", &["b"])],
        )
        .await;
    let execution = stack.create_execution(plan, agent_id, None, None).await;
    Work {
        gateway,
        token: agent["token"].as_str().expect("token").to_owned(),
        execution: execution.id,
    }
}

async fn call(
    client: &RunningService<RoleClient, ()>,
    name: &'static str,
    args: Value,
) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments are an object")
    };
    client
        .call_tool(CallToolRequestParams::new(name).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{name} answers: {e}"))
}

fn structured(result: &CallToolResult) -> Value {
    result
        .structured_content
        .clone()
        .expect("tools answer structured content")
}

/// Claims and completes tasks until the execution is COMPLETED; returns what each claimed
/// task said its dependencies produced, by WBS.
async fn drive(
    stack: &Stack,
    client: &RunningService<RoleClient, ()>,
    execution: Id,
) -> Vec<(String, Value)> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while stack.execution(execution).await.status != ExecutionStatus::Completed {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not COMPLETED in 60 s"
        );
        let next = call(client, "next_task", json!({ "wait_seconds": 5 })).await;
        assert_ne!(next.is_error, Some(true), "next_task: {next:?}");
        let answer = structured(&next);
        let Some(task) = answer["task"].as_object() else {
            continue;
        };
        let wbs = task["wbs"].as_str().expect("wbs").to_owned();
        assert_eq!(
            task["acceptance_criteria"],
            json!(format!(
                "{} is sent",
                task["title"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches("Task ")
            )),
        );
        seen.push((wbs.clone(), task["dependency_outputs"].clone()));
        let done = call(
            client,
            "complete_task",
            json!({
                "execution_id": task["execution_id"],
                "task_id": task["task_id"],
                "attempt": task["attempt"],
                "output": { "summary": format!("did {wbs}") },
            }),
        )
        .await;
        assert_ne!(done.is_error, Some(true), "complete_task: {done:?}");
        assert_eq!(structured(&done)["disposition"], "applied");
    }
    seen
}

fn assert_chain(seen: &[(String, Value)]) {
    assert_eq!(seen.len(), 3, "each task claimed once: {seen:?}");
    assert_eq!(seen[0].1, json!([]), "the first task depends on nothing");
    for window in seen.windows(2) {
        let outputs = window[1].1.as_array().expect("a list");
        assert_eq!(outputs.len(), 1, "{outputs:?}");
        assert_eq!(outputs[0]["wbs"], json!(window[0].0));
        assert_eq!(outputs[0]["status"], "completed");
        assert_eq!(
            outputs[0]["output"],
            json!({ "summary": format!("did {}", window[0].0) })
        );
    }
}

#[tokio::test]
async fn an_mcp_client_on_a_byte_stream_completes_a_plan_with_next_task_and_complete_task() {
    let stack = Stack::new().await;
    let work = work(&stack).await;
    let api = HttpApi::new(&work.gateway, Duration::from_secs(60)).expect("client");
    let server = PlanexecMcp::new(Arc::new(api), Credentials::Fixed(work.token.clone()));
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let running = server.serve(server_end).await.expect("server handshake");
        let _ = running.waiting().await;
    });
    let client = ().serve(client_end).await.expect("initialize");
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("planexec")
    );
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        ["next_task", "report_progress", "complete_task", "fail_task"]
    );
    let complete = tools
        .iter()
        .find(|t| t.name == "complete_task")
        .expect("complete_task");
    let required = complete.input_schema["required"]
        .as_array()
        .expect("required");
    for field in ["execution_id", "task_id", "attempt", "output"] {
        assert!(required.contains(&json!(field)), "{field} is required");
    }
    assert_eq!(
        complete.input_schema["properties"]["output"]["type"],
        "object"
    );

    let seen = drive(&stack, &client, work.execution).await;
    assert_chain(&seen);

    let operator_only = call(&client, "list_executions", json!({})).await;
    assert_eq!(
        operator_only.is_error,
        Some(true),
        "an agent may not list executions"
    );
    let _ = client.cancel().await;
}

async fn http_client(gateway: &str, token: &str) -> RunningService<RoleClient, ()> {
    let transport = StreamableHttpClientTransport::with_client(
        planexec_tls::client(),
        StreamableHttpClientTransportConfig::with_uri(format!("{gateway}/mcp")).auth_header(token),
    );
    ().serve(transport).await.expect("initialize over HTTP")
}

#[tokio::test]
async fn the_gateway_serves_the_tools_over_streamable_http_on_the_callers_token() {
    let stack = Stack::new().await;
    let work = work(&stack).await;

    let anonymous = planexec_tls::client()
        .post(format!("{}/mcp", work.gateway))
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), 401, "no token, no MCP");

    let agent = http_client(&work.gateway, &work.token).await;
    let seen = drive(&stack, &agent, work.execution).await;
    assert_chain(&seen);
    let _ = agent.cancel().await;

    let operator = http_client(&work.gateway, OPERATOR).await;
    let names: Vec<String> = operator
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "list_executions",
            "get_execution",
            "pause_execution",
            "resume_execution",
            "resolve_task"
        ]
    );
    let listed = structured(&call(&operator, "list_executions", json!({})).await);
    assert_eq!(listed["executions"][0]["id"], json!(work.execution));
    let one = structured(
        &call(
            &operator,
            "get_execution",
            json!({ "execution_id": work.execution }),
        )
        .await,
    );
    assert_eq!(one["execution"]["status"], "COMPLETED");
    assert_eq!(one["tasks"].as_array().map(Vec::len), Some(3));
    let refused = call(
        &operator,
        "pause_execution",
        json!({ "execution_id": work.execution }),
    )
    .await;
    assert_eq!(
        refused.is_error,
        Some(true),
        "a completed execution cannot be paused"
    );
    assert_eq!(structured(&refused)["status"], 409);
    let _ = operator.cancel().await;
}

/// The server is an ordinary handler: its catalogue does not need a connection.
#[test]
fn every_tool_has_an_object_input_schema() {
    let server = PlanexecMcp::new(
        Arc::new(HttpApi::new("http://127.0.0.1:9", Duration::from_secs(1)).expect("client")),
        Credentials::Fixed(String::new()),
    );
    assert!(server.get_info().capabilities.tools.is_some());
    for role in [
        planexec_mcp::tools::Role::Agent,
        planexec_mcp::tools::Role::Operator,
    ] {
        for tool in planexec_mcp::tools::catalogue(role) {
            assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
            assert!(!tool.input_schema.contains_key("$ref"), "{}", tool.name);
            let _: &JsonObject = &tool.input_schema;
        }
    }
}
