//! A running gateway and coordinator on real servers, and a typed HTTP client.

use std::net::SocketAddr;

use planexec_coordinator::Coordinator;
use planexec_gateway::{AppState, GatewayOptions};
use planexec_harness::TestEnv;
use planexec_schemas::Id;
use planexec_schemas::api::{Problem, RegisteredAgent};
use planexec_schemas::plan::ImportSummary;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const OPERATOR: &str = "operator-token-for-tests-0123456789";

pub struct Api {
    /// Held for its `Drop`, which removes the test's database and streams; open for tests that
    /// need its namespace or URLs.
    #[allow(dead_code)]
    pub env: TestEnv,
    pub pool: sqlx::PgPool,
    pub base: String,
    /// The gateway's state, for tests that look inside (the stream's subscriptions).
    #[allow(dead_code)]
    pub state: AppState,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An answer: status and JSON body (problem bodies included).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Answer {
    pub fn problem(&self) -> Problem {
        assert_eq!(self.content_type, "application/problem+json", "{self:?}");
        serde_json::from_value(self.body.clone())
            .unwrap_or_else(|e| panic!("not a problem ({e}): {self:?}"))
    }

    /// Asserts the status and that the body is a problem of `kind`.
    pub fn expect_problem(&self, status: u16, kind: &str) -> Problem {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        let problem = self.problem();
        assert_eq!(
            problem.kind,
            format!("https://planexec.dev/problems/{kind}"),
            "{problem:?}"
        );
        assert_eq!(problem.status, status);
        problem
    }

    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        &self.body
    }

    pub fn parse<T: serde::de::DeserializeOwned>(&self, status: u16) -> T {
        serde_json::from_value(self.expect(status).clone())
            .unwrap_or_else(|e| panic!("unexpected shape ({e}): {self:?}"))
    }
}

impl Api {
    pub async fn start() -> Self {
        let env = TestEnv::start().await;
        let pool = env.pool().await;
        planexec_store::migrate(&pool)
            .await
            .expect("migrations apply");
        let shutdown = CancellationToken::new();
        let mut coordinator_options = planexec_coordinator::Options {
            namespace: env.namespace.clone(),
            ..Default::default()
        };
        coordinator_options.retry.initial_backoff_seconds = 0.1;
        coordinator_options.scheduler_interval = std::time::Duration::from_millis(50);
        let coordinator =
            Coordinator::start(env.pool().await, env.nats().await, coordinator_options)
                .await
                .expect("coordinator");
        tokio::spawn(coordinator.run(shutdown.clone()));
        let options = GatewayOptions {
            namespace: env.namespace.clone(),
            operator_token: OPERATOR.into(),
            json_body_limit: 64 * 1024,
            upload_body_limit: 8 * 1024 * 1024,
            ..GatewayOptions::default()
        };
        let state = AppState::new(pool.clone(), env.nats().await, options);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(planexec_gateway::serve(
            listener,
            state.clone(),
            shutdown.clone(),
        ));
        Self {
            env,
            pool,
            base,
            state,
            http: planexec_tls::client(),
            shutdown,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::answer(request.send().await.expect("the gateway answers")).await
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::answer(request.send().await.expect("the gateway answers")).await
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            content_type,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn op_get(&self, path: &str) -> Answer {
        self.get(path, Some(OPERATOR)).await
    }

    pub async fn op_post(&self, path: &str, body: Value) -> Answer {
        self.post(path, Some(OPERATOR), body).await
    }

    pub async fn register(&self, name: &str, capabilities: &[&str]) -> RegisteredAgent {
        self.op_post(
            "/api/agents",
            json!({"name": name, "role": "assistant", "capabilities": capabilities}),
        )
        .await
        .parse(201)
    }

    /// A small plan (phase of `shape.len()` email tasks, `shape[i]` subtasks each) imported as a
    /// plan document, ready to run.
    pub async fn plan(&self, shape: &[usize]) -> Id {
        let tasks: Vec<Value> = shape
            .iter()
            .enumerate()
            .map(|(t, subs)| {
                json!({
                    "key": format!("t{t}"),
                    "title": format!("Send the newsletter email {t}"),
                    "description": "Send an email to every breeder on the contact list with the newsletter.",
                    "capability": "send_email",
                    "subtasks": (0..*subs).map(|s| json!({"title": format!("Email batch {s}"), "capability": "send_email"})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let summary: ImportSummary = self
            .op_post(
                "/api/plans",
                json!({"title": "Newsletter", "phases": [{"title": "Send", "tasks": tasks}]}),
            )
            .await
            .parse(201);
        summary.id.expect("a stored plan has an id")
    }

    pub async fn execution(&self, plan: Id, agent: Id) -> Id {
        let answer = self
            .op_post(
                "/api/executions",
                json!({"plan_id": plan, "agent_id": agent}),
            )
            .await;
        serde_json::from_value::<Id>(answer.expect(201)["id"].clone()).expect("id")
    }

    /// Waits (polling) until the execution's status is `status`.
    pub async fn until_status(&self, execution: Id, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let answer = self.op_get(&format!("/api/executions/{execution}")).await;
            if answer.body["status"] == status {
                return answer.body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never {status}: {:?}",
                answer.body
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// The agent's next work item (long poll).
    pub async fn work(&self, agent: &RegisteredAgent) -> Value {
        self.get(
            &format!("/api/agents/{}/work?wait=10", agent.agent.id),
            Some(&agent.token),
        )
        .await
        .expect(200)
        .clone()
    }

    pub async fn report(&self, agent: &RegisteredAgent, task: &Value, body: Value) -> Answer {
        let mut event = json!({"task_id": task["task_id"], "attempt": task["attempt"]});
        if let (Some(event), Some(extra)) = (event.as_object_mut(), body.as_object()) {
            event.extend(extra.clone());
        }
        let path = format!(
            "/api/executions/{}/events",
            task["execution_id"].as_str().unwrap_or_default()
        );
        self.post(&path, Some(&agent.token), event).await
    }
}
