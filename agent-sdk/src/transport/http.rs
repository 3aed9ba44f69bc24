//! The HTTP transport, through the gateway, for agents without NATS access.
//!
//! - `GET /api/agents/{id}/work?wait=s`: long-poll; `200` a task or cancel, `204` nothing yet.
//!   The gateway takes the message off the agent's queue before answering, so a poll is never
//!   abandoned half-way (its answer could be a task nobody else will get).
//! - `POST /api/executions/{execution_id}/events`: one event, with its `event_id` (the same
//!   when re-sent); the answer may carry the agent's next task, already taken off its queue.
//! - `POST /api/agents/{id}/heartbeat`: a sign of life while polling is paused.
//! - `POST /api/agents`: registration, with the operator token.
//!
//! Errors are RFC 9457 problem documents; [`error_from_parts`] turns them into [`Error`].

use std::time::Duration;

use planexec_schemas::Id;
use planexec_schemas::api::{
    NextStep, Problem, RegisterAgentRequest, RegisteredAgent, ReportEventRequest,
    ReportEventResponse,
};
use planexec_schemas::event::{AgentEvent, Disposition};
use planexec_schemas::task::AgentMessage;
use reqwest::StatusCode;
use url::Url;

use crate::Error;
use crate::outbox::{Deliver, Delivered};

/// The gateway's long-poll accepts waits of 0 to 30 seconds.
pub const MAX_WAIT_SECONDS: u64 = 30;
/// Events larger than this are not sent (the gateway's body limit is assumed to be 1 MiB).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// One agent's view of the gateway.
#[derive(Debug, Clone)]
pub(crate) struct HttpLink {
    client: reqwest::Client,
    gateway: Url,
    agent_id: Id,
    token: String,
    request_timeout: Duration,
}

impl HttpLink {
    pub fn new(
        gateway: &str,
        agent_id: Id,
        token: &str,
        request_timeout: Duration,
    ) -> Result<Self, Error> {
        Ok(Self {
            client: client()?,
            gateway: parse_gateway(gateway)?,
            agent_id,
            token: token.to_owned(),
            request_timeout,
        })
    }

    /// Waits up to `wait` for the agent's next message.
    pub async fn poll(&self, wait: Duration) -> Result<Option<AgentMessage>, Error> {
        let seconds = wait.as_secs().min(MAX_WAIT_SECONDS);
        let url = work_url(&self.gateway, self.agent_id, seconds);
        let response = self
            .client
            .get(url)
            .bearer_auth(&self.token)
            // The server may hold the request for `wait`; give the answer time to come back.
            .timeout(Duration::from_secs(seconds) + self.request_timeout)
            .send()
            .await
            .map_err(|e| unreachable(&self.gateway, e))?;
        match response.status() {
            StatusCode::NO_CONTENT => Ok(None),
            StatusCode::OK => {
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| unreachable(&self.gateway, e))?;
                serde_json::from_slice(&body)
                    .map(Some)
                    .map_err(|e| Error::InvalidMessage {
                        message: format!("the work answer does not parse: {e}"),
                    })
            }
            _ => Err(self.agent_error(response).await),
        }
    }

    /// Tells the gateway the agent is alive.
    /// Posts a sign of life saying the agent holds `in_flight` tasks.
    pub async fn heartbeat(&self, in_flight: u32) -> Result<(), Error> {
        let response = self
            .client
            .post(agent_url(&self.gateway, self.agent_id, "heartbeat"))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "in_flight": in_flight }))
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|e| unreachable(&self.gateway, e))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.agent_error(response).await)
        }
    }

    async fn report(&self, event: &AgentEvent) -> Delivered {
        let response = self
            .client
            .post(events_url(&self.gateway, event.execution_id))
            .bearer_auth(&self.token)
            .timeout(self.request_timeout)
            .json(&report_request(event))
            .send()
            .await
            .map_err(|e| unreachable(&self.gateway, e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| unreachable(&self.gateway, e))?;
        if !status.is_success() {
            return Err(error_from_parts(status.as_u16(), &body, None));
        }
        let answer: ReportEventResponse =
            serde_json::from_slice(&body).map_err(|e| Error::Protocol {
                what: "the gateway".into(),
                message: format!("the answer to an event does not parse: {e}"),
            })?;
        if answer.disposition == Disposition::Rejected {
            tracing::info!(event_id = %answer.event_id, reason = answer.reason.as_deref().unwrap_or(""),
                "the coordinator recorded the event but did not apply it");
        }
        Ok(match answer.next {
            NextStep::Task { task } => Some(AgentMessage::Task(task)),
            NextStep::ExecutionComplete | NextStep::Poll { .. } => None,
        })
    }

    async fn agent_error(&self, response: reqwest::Response) -> Error {
        let status = response.status().as_u16();
        match response.bytes().await {
            Ok(body) => error_from_parts(status, &body, Some(self.agent_id)),
            Err(e) => unreachable(&self.gateway, e),
        }
    }
}

impl Deliver for HttpLink {
    /// One request per event, in order; after a passing failure the rest of the window is not
    /// sent, so that no event overtakes an earlier one.
    async fn deliver(&self, events: &[AgentEvent]) -> Vec<Delivered> {
        let mut results = Vec::with_capacity(events.len());
        let mut stalled = false;
        for event in events {
            if stalled {
                results.push(Err(Error::unreachable(
                    "the gateway",
                    "not sent: an earlier event is waiting to be sent again",
                )));
                continue;
            }
            let result = self.report(event).await;
            stalled = matches!(&result, Err(e) if e.is_transient());
            results.push(result);
        }
        results
    }
}

/// Registers an agent with the operator token.
pub(crate) async fn register(
    gateway: &str,
    operator_token: &str,
    request: &RegisterAgentRequest,
) -> Result<RegisteredAgent, Error> {
    let gateway = parse_gateway(gateway)?;
    let response = client()?
        .post(api_url(&gateway, &["agents"]))
        .bearer_auth(operator_token)
        .timeout(Duration::from_secs(30))
        .json(request)
        .send()
        .await
        .map_err(|e| unreachable(&gateway, e))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| unreachable(&gateway, e))?;
    if !status.is_success() {
        return Err(error_from_parts(status.as_u16(), &body, None));
    }
    serde_json::from_slice(&body).map_err(|e| Error::Protocol {
        what: "the gateway".into(),
        message: format!("the registered agent does not parse: {e}"),
    })
}

fn client() -> Result<reqwest::Client, Error> {
    planexec_tls::client_builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("planexec-agent-sdk/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Options(format!("cannot build the HTTP client: {e}")))
}

fn parse_gateway(gateway: &str) -> Result<Url, Error> {
    let url = Url::parse(gateway)
        .map_err(|e| Error::Options(format!("the gateway URL {gateway:?} is invalid: {e}")))?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Options(format!(
            "the gateway URL {gateway:?} must be http:// or https://"
        )));
    }
    Ok(url)
}

fn unreachable(gateway: &Url, error: reqwest::Error) -> Error {
    Error::unreachable(format!("the gateway at {gateway}"), error)
}

/// `{gateway}/api/<segments...>`, keeping any path prefix the gateway URL has.
pub(crate) fn api_url(gateway: &Url, segments: &[&str]) -> Url {
    let mut url = gateway.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().push("api").extend(segments);
    }
    url
}

pub(crate) fn work_url(gateway: &Url, agent: Id, wait_seconds: u64) -> Url {
    let mut url = agent_url(gateway, agent, "work");
    url.query_pairs_mut()
        .append_pair("wait", &wait_seconds.to_string());
    url
}

fn agent_url(gateway: &Url, agent: Id, what: &str) -> Url {
    api_url(gateway, &["agents", &agent.to_string(), what])
}

pub(crate) fn events_url(gateway: &Url, execution: Id) -> Url {
    api_url(gateway, &["executions", &execution.to_string(), "events"])
}

/// The request body of an event: the same `event_id` every time it is sent.
pub(crate) fn report_request(event: &AgentEvent) -> ReportEventRequest {
    ReportEventRequest {
        event_id: Some(event.event_id),
        task_id: event.task_id,
        attempt: event.attempt,
        timestamp: Some(event.timestamp),
        status: event.status.clone(),
        body: event.body.clone(),
    }
}

/// The error an unsuccessful answer means. `agent` is set for the agent's own endpoints (work,
/// heartbeat), where 404 means the agent itself is unknown.
pub(crate) fn error_from_parts(status: u16, body: &[u8], agent: Option<Id>) -> Error {
    let problem = serde_json::from_slice::<Problem>(body).unwrap_or_else(|_| Problem {
        kind: "about:blank".into(),
        title: StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error")
            .to_owned(),
        status,
        detail: String::from_utf8_lossy(body).chars().take(500).collect(),
        instance: None,
        errors: None,
        current_status: None,
        allowed: None,
    });
    match (status, agent) {
        (401, _) => Error::Unauthorised {
            detail: problem.detail,
        },
        (403, _) => Error::Forbidden {
            detail: problem.detail,
        },
        (404, Some(agent_id)) => Error::UnknownAgent {
            agent_id,
            detail: problem.detail,
        },
        _ => Error::Server {
            status,
            problem: Box::new(problem),
        },
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
