//! The way from the tools to planexec's HTTP API: over the network ([`HttpApi`], for
//! `planexec mcp`) or any other [`Api`] (the gateway answers in process).

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use crate::error::Error;

/// The HTTP methods the tools use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
}

/// One call of the API, on behalf of the holder of `token`.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub verb: Verb,
    /// Path and query, e.g. `/api/agents/{id}/work?wait=10`.
    pub path: String,
    pub token: String,
    pub body: Option<Value>,
}

/// The API's answer: its status and JSON body (`null` when empty).
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Value,
}

impl ApiResponse {
    /// The body of a 2xx answer, or the problem as an [`Error::Api`].
    pub fn ok(self) -> Result<Value, Error> {
        if (200..300).contains(&self.status) {
            Ok(self.body)
        } else {
            Err(Error::Api {
                status: self.status,
                problem: self.body,
            })
        }
    }
}

/// Something that answers API requests.
pub trait Api: Send + Sync + 'static {
    fn send(&self, request: ApiRequest) -> impl Future<Output = Result<ApiResponse, Error>> + Send;
}

/// A body as JSON; an empty one is `null`, one that is not JSON a string.
pub fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// A gateway reached over HTTP.
#[derive(Debug, Clone)]
pub struct HttpApi {
    base: String,
    client: reqwest::Client,
}

impl HttpApi {
    /// The gateway at `base` (e.g. `http://127.0.0.1:8080`). `timeout` bounds every request;
    /// it must exceed the longest `next_task` wait (30 s).
    pub fn new(base: &str, timeout: Duration) -> Result<Self, Error> {
        let client = planexec_tls::client_builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }
}

impl Api for HttpApi {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        let url = format!("{}{}", self.base, request.path);
        let builder = match request.verb {
            Verb::Get => self.client.get(&url),
            Verb::Post => self.client.post(&url),
            Verb::Patch => self.client.patch(&url),
        };
        let mut builder = builder.bearer_auth(&request.token);
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| Error::Unreachable(format!("{url}: {e}")))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::Unreachable(format!("{url}: {e}")))?;
        Ok(ApiResponse {
            status,
            body: parse_body(&bytes),
        })
    }
}
