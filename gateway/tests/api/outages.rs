//! A gateway whose database is out of reach answers 503 with `Retry-After`, and says so.

use std::net::SocketAddr;

use planexec_gateway::{AppState, GatewayOptions};
use planexec_harness::TestEnv;
use tokio_util::sync::CancellationToken;

use super::support::OPERATOR;

#[tokio::test]
async fn with_the_database_gone_requests_are_503_unavailable_and_the_breaker_opens() {
    let env = TestEnv::start().await;
    // A port nothing listens on: every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/gone"))
        .expect("lazy pool");
    let options = GatewayOptions {
        namespace: env.namespace.clone(),
        operator_token: OPERATOR.into(),
        ..GatewayOptions::default()
    };
    let state = AppState::new(pool, env.nats().await, options);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    tokio::spawn(planexec_gateway::serve(listener, state, shutdown.clone()));
    let http = planexec_tls::client();

    let mut details = Vec::new();
    for _ in 0..3 {
        let answer = http
            .get(format!("{base}/api/executions"))
            .bearer_auth(OPERATOR)
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status().as_u16(), 503);
        assert_eq!(
            answer.headers().get("retry-after").map(|v| v.to_str().ok()),
            Some(Some("2"))
        );
        let problem: serde_json::Value = answer.json().await.expect("problem");
        assert_eq!(problem["type"], "https://planexec.dev/problems/unavailable");
        details.push(problem["detail"].as_str().unwrap_or_default().to_owned());
    }
    assert!(
        details
            .iter()
            .all(|d| d.starts_with("PostgreSQL is unavailable")),
        "{details:?}"
    );
    assert!(
        details[2].contains("failed repeatedly"),
        "the third answer should come from the open breaker: {details:?}"
    );

    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(ready.status().as_u16(), 503);
    let body: serde_json::Value = ready.json().await.expect("readiness");
    assert_eq!(body["database"], false);
    assert_eq!(body["nats"], true);
    shutdown.cancel();
}
