//! What wraps every request: its id (the caller's `X-Request-Id`, or a new UUID), returned in
//! the answer, carried by every log line of the request (its span) and written into the
//! `instance` of a problem answer; and one access-log line at INFO when it is answered. A
//! caller's W3C `traceparent` makes the request's span a child of the caller's trace.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use planexec_telemetry::propagate::TraceContext;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::error::ApiError;

/// The header of the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Largest problem body rewritten to carry the request id (problems are small).
const PROBLEM_LIMIT: usize = 1024 * 1024;

/// `router` with the request id, its span and the access log around it.
pub fn around<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(axum::middleware::from_fn(problem_instance))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    let span = tracing::info_span!(
                        "request",
                        request_id = id,
                        method = %request.method(),
                        path = request.uri().path(),
                    );
                    TraceContext::from_http(request.headers()).parent_of(&span);
                    span
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _: &Span| {
                    tracing::info!(
                        target: "planexec::access",
                        status = response.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "request answered"
                    );
                }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Writes the request id into the `instance` of a problem answer that has none.
async fn problem_instance(request: Request, next: Next) -> Response {
    let id = request.headers().get(REQUEST_ID).cloned();
    let response = next.run(request).await;
    let is_problem = response.headers().get(header::CONTENT_TYPE)
        == Some(&HeaderValue::from_static("application/problem+json"));
    let Some(id) = id.filter(|_| is_problem) else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, PROBLEM_LIMIT).await {
        Ok(bytes) => bytes,
        Err(e) => return ApiError::internal(format!("a problem body: {e}")).into_response(),
    };
    let mut problem: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(problem) => problem,
        Err(_) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
    };
    if let (Some(map), Ok(id)) = (problem.as_object_mut(), id.to_str()) {
        map.entry("instance").or_insert_with(|| id.into());
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = serde_json::to_vec(&problem).unwrap_or_else(|_| bytes.to_vec());
    Response::from_parts(parts, axum::body::Body::from(body))
}
