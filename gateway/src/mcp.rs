//! MCP over streamable HTTP at `/mcp`: the tools of `planexec-mcp` on the caller's bearer token,
//! answered by this gateway's own API in process (the same routes, checks and answers as over
//! the network). Requests without a valid token get a 401 before any MCP is spoken. The
//! service is stateless (no MCP sessions), so any gateway replica can answer any request.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, request::Parts};
use axum::middleware::Next;
use axum::response::Response;
use planexec_mcp::api::parse_body;
use planexec_mcp::server::Credentials;
use planexec_mcp::{Api, ApiRequest, ApiResponse, Error, PlanexecMcp, Verb};
use rmcp::model::Extensions;
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tower::ServiceExt;

use crate::auth::Caller;
use crate::state::AppState;

/// The gateway's API, called in process.
#[derive(Debug, Clone)]
struct InProcess(Router);

impl Api for InProcess {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        let method = match request.verb {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Patch => Method::PATCH,
        };
        let builder = Request::builder()
            .method(method)
            .uri(&request.path)
            .header(AUTHORIZATION, format!("Bearer {}", request.token));
        let built = match &request.body {
            Some(body) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .map_err(|e| Error::Arguments(e.to_string()))?;
        let response = match self.0.clone().oneshot(built).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        Ok(ApiResponse {
            status,
            body: parse_body(&bytes),
        })
    }
}

/// The bearer token of the HTTP request an MCP message came in.
fn bearer(extensions: &Extensions) -> Option<String> {
    let value = extensions.get::<Parts>()?.headers.get(AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}

/// Only callers with a valid token reach the MCP service.
async fn authenticate(_: Caller, request: Request, next: Next) -> Response {
    next.run(request).await
}

/// `/mcp`, in front of `api` (the rest of the application).
pub fn routes(api: Router, state: AppState) -> Router {
    let server = PlanexecMcp::new(Arc::new(InProcess(api)), Credentials::PerRequest(bearer));
    // Hosts are not restricted: every request must carry a valid bearer token, which a page a
    // browser was tricked into loading does not have.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_legacy_session_mode(false)
        .with_json_response(true);
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
}
