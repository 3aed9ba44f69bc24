//! The router: every module's routes, the OpenAPI document built from them, and the layers
//! that make every failure a problem+json answer (unknown route, wrong method, timeout, panic),
//! with the request id and access log of [`requests`] around them.

mod admin;
mod agents;
mod conductor;
mod dependencies;
mod events;
mod executions;
mod health;
mod operation_ids;
mod plans;
pub mod requests;
mod webhooks;
mod work;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aide::axum::ApiRouter;
use aide::openapi::{OpenApi, SecurityScheme};
use aide::transform::TransformOpenApi;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{ApiError, Dependency};
use crate::options::GatewayOptions;
use crate::state::AppState;

fn api_routes(options: &GatewayOptions) -> ApiRouter<AppState> {
    ApiRouter::new()
        .merge(health::routes())
        .merge(agents::routes())
        .merge(work::routes())
        .merge(executions::routes())
        .merge(events::routes())
        .merge(dependencies::routes())
        .merge(plans::routes(options.upload_body_limit))
        .merge(conductor::routes())
        .merge(admin::routes())
        .merge(webhooks::routes())
}

fn describe(api: TransformOpenApi<'_>) -> TransformOpenApi<'_> {
    api.title("planexec API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(
            "Runs PlanExe plans with agents. Operators use the operator token; agents their own token \
             (`Authorization: Bearer ...`). Errors are application/problem+json (RFC 9457) with a stable `type`.",
        )
        .security_scheme(
            "bearer",
            SecurityScheme::Http {
                scheme: "bearer".into(),
                bearer_format: None,
                description: Some("The operator token, or an agent's own token".into()),
                extensions: Default::default(),
            },
        )
}

/// The OpenAPI document of the API, as the code defines it.
pub fn openapi(options: &GatewayOptions) -> OpenApi {
    aide::generate::on_error(|error| tracing::warn!(%error, "OpenAPI generation"));
    aide::generate::extract_schemas(true);
    let mut api = OpenApi::default();
    let _ = api_routes(options).finish_api_with(&mut api, describe);
    crate::extract::schema::state_wire_limits_in(&mut api);
    operation_ids::name_operations(&mut api);
    api
}

/// The whole HTTP application: the API, and MCP at `/mcp` in front of it.
pub fn app(state: AppState) -> Router {
    let api = api_app(state.clone());
    api.clone().merge(crate::mcp::routes(api, state))
}

/// The API with its documents and layers.
fn api_app(state: AppState) -> Router {
    let options = state.options().clone();
    let mut api = OpenApi::default();
    aide::generate::extract_schemas(true);
    let router = api_routes(&options).finish_api_with(&mut api, describe);
    crate::extract::schema::state_wire_limits_in(&mut api);
    operation_ids::name_operations(&mut api);
    let document: Arc<String> = Arc::new(serde_json::to_string_pretty(&api).unwrap_or_default());
    let metrics = options.metrics.clone();
    let router = router
        .merge(crate::stream::routes())
        .merge(crate::pages::routes())
        .route(
            "/api/openapi.json",
            get(move || {
                let document = document.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        (*document).clone(),
                    )
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    match metrics {
                        Some(handle) => handle.render().into_response(),
                        None => ApiError::NoRoute(
                            "/metrics (no metrics recorder in this process)".into(),
                        )
                        .into_response(),
                    }
                }
            }),
        )
        .fallback(|uri: Uri| async move { ApiError::NoRoute(uri.path().to_owned()) })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::MethodNotAllowed(method.to_string())
        })
        .layer(DefaultBodyLimit::max(options.json_body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            breaker_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            options.request_timeout,
            timeout,
        ))
        .layer(axum::middleware::from_fn(record))
        .layer(axum::middleware::from_fn(uri_limit))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::Internal("a handler panicked".into()).into_response()
            },
        ));
    requests::around(router).with_state(state)
}

/// Answers 503 at once while the breaker is open; counts the answers of the others.
async fn breaker_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if matches!(
        path,
        "/healthz" | "/metrics" | "/readyz" | "/api/openapi.json"
    ) {
        return next.run(request).await;
    }
    let breaker = state.breaker();
    if breaker.is_open() {
        return ApiError::Down(
            Dependency::Database,
            "it failed repeatedly just now; try again after Retry-After".into(),
        )
        .into_response();
    }
    let response = next.run(request).await;
    match response.extensions().get::<Dependency>() {
        Some(Dependency::Database) => breaker.failed(),
        Some(Dependency::Nats) => {}
        None if !response.status().is_server_error() => breaker.succeeded(),
        None => {}
    }
    response
}

/// Answers a problem (504) instead of an empty body when a request takes too long.
async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(limit.as_secs()).into_response(),
    }
}

/// The longest path and query answered; a longer one is a 414 problem (the HTTP server itself
/// refuses, with a bare 414, request lines past 64 KiB).
const MAX_URI_BYTES: usize = 8 * 1024;

async fn uri_limit(request: Request, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if length > MAX_URI_BYTES {
        return ApiError::UriTooLong(MAX_URI_BYTES).into_response();
    }
    next.run(request).await
}

/// Counts requests by route and status, and times them.
async fn record(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("planexec_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("planexec_http_request_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
