//! The dashboard: plain HTML, CSS and JavaScript embedded in the binary (nothing is fetched at
//! run time, there is no front-end build). The pages are public shells; everything they show
//! comes from the API and the streams with the operator token, which the browser keeps for the
//! tab (`?token=` once, or the sign-in form).
//!
//! - `/`: executions, live, with filters; `/executions/{id}`: one execution, live;
//!   `/plans/{id}`: a plan's decomposition; `/agents`: the agents; `/metrics-overview`: the
//!   admin metrics as charts.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

const LAYOUT: &str = include_str!("../assets/layout.html");

/// Every asset, by name: its content type and text.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css", include_str!("../assets/app.css")),
    (
        "common.js",
        "text/javascript",
        include_str!("../assets/common.js"),
    ),
    (
        "list.js",
        "text/javascript",
        include_str!("../assets/list.js"),
    ),
    (
        "execution.js",
        "text/javascript",
        include_str!("../assets/execution.js"),
    ),
    (
        "tree.js",
        "text/javascript",
        include_str!("../assets/tree.js"),
    ),
    (
        "plan.js",
        "text/javascript",
        include_str!("../assets/plan.js"),
    ),
    (
        "agents.js",
        "text/javascript",
        include_str!("../assets/agents.js"),
    ),
    (
        "metrics.js",
        "text/javascript",
        include_str!("../assets/metrics.js"),
    ),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { page("list", "Executions", &[]) }))
        .route(
            "/executions/{id}",
            get(|| async { page("execution", "Execution", &["tree.js"]) }),
        )
        .route("/plans/{id}", get(|| async { page("plan", "Plan", &[]) }))
        .route("/agents", get(|| async { page("agents", "Agents", &[]) }))
        .route(
            "/metrics-overview",
            get(|| async { page("metrics", "Metrics", &[]) }),
        )
        .route("/assets/{name}", get(asset))
}

fn page(name: &str, title: &str, extra: &[&str]) -> Response {
    let mut scripts = String::new();
    for script in extra.iter().copied().chain([format!("{name}.js").as_str()]) {
        scripts.push_str(&format!(
            "<script src=\"/assets/{script}\" defer></script>\n"
        ));
    }
    let html = LAYOUT
        .replace("{{TITLE}}", title)
        .replace("{{PAGE}}", name)
        .replace("{{SCRIPTS}}", &scripts);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:",
                ),
            ),
        ],
        html,
    )
        .into_response()
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, text)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            *text,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
