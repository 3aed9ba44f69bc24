//! The CLI's client of the HTTP API: the operator token, and problems turned into errors.

use planexec_schemas::api::Problem;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    token: SecretString,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: &str, token: SecretString) -> anyhow::Result<Self> {
        let http = planexec_tls::client_builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    /// The gateway's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> &SecretString {
        &self.token
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose_secret())
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        decode(self.request(reqwest::Method::GET, path).send().await, path).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        decode(
            self.request(reqwest::Method::POST, path)
                .json(body)
                .send()
                .await,
            path,
        )
        .await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        decode(
            self.request(reqwest::Method::PATCH, path)
                .json(body)
                .send()
                .await,
            path,
        )
        .await
    }

    /// A DELETE that answers 204 (no body).
    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let sent = self.request(reqwest::Method::DELETE, path).send().await;
        match sent {
            Ok(response) if response.status() == reqwest::StatusCode::NO_CONTENT => Ok(()),
            other => decode::<serde_json::Value>(other, path).await.map(|_| ()),
        }
    }

    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<T> {
        let request = self
            .request(reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, content_type);
        decode(request.body(bytes).send().await, path).await
    }
}

async fn decode<T: DeserializeOwned>(
    sent: reqwest::Result<reqwest::Response>,
    path: &str,
) -> anyhow::Result<T> {
    let response = sent.map_err(|e| {
        anyhow::anyhow!("cannot reach the planexec API for {path}: {e} (is `planexec up` running?)")
    })?;
    let status = response.status();
    let body = response.bytes().await?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|e| anyhow::anyhow!("unexpected answer from {path}: {e}"));
    }
    match serde_json::from_slice::<Problem>(&body) {
        Ok(problem) => {
            let mut message = format!("{} ({}): {}", problem.title, problem.status, problem.detail);
            for error in problem.errors.unwrap_or_default() {
                message.push_str(&format!("\n  {}: {}", error.field, error.message));
            }
            Err(anyhow::anyhow!(message))
        }
        Err(_) => Err(anyhow::anyhow!(
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        )),
    }
}
