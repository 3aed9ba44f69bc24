//! Asking the coordinators: NATS request/reply with a timeout, retried while none answers (a
//! coordinator restarting is not an error the caller should see, up to a point), and a command
//! safe to send twice (`Command::RETRY_SAFE`) sent again when the coordinator that took it did
//! not answer (it died with it), all within the command timeout.

use std::time::Duration;

use planexec_schemas::command::{Command, Reply};
use planexec_schemas::subjects::Namespace;
use planexec_telemetry::propagate::TraceContext;

use crate::error::{ApiError, Dependency};

/// How long to keep trying when no coordinator is subscribed.
const NO_RESPONDERS_PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct CoordinatorClient {
    nats: async_nats::Client,
    namespace: Namespace,
    timeout: Duration,
}

impl CoordinatorClient {
    pub fn new(nats: async_nats::Client, namespace: Namespace, timeout: Duration) -> Self {
        Self {
            nats,
            namespace,
            timeout,
        }
    }

    /// Sends `command` and returns the coordinator's typed answer.
    pub async fn call<C: Command>(&self, command: &C) -> Result<C::Reply, ApiError> {
        if self.nats.connection_state() != async_nats::connection::State::Connected {
            return Err(ApiError::Down(
                Dependency::Nats,
                "the gateway is not connected to NATS, so commands cannot reach the coordinators"
                    .into(),
            ));
        }
        let payload = serde_json::to_vec(command).map_err(ApiError::internal)?;
        let subject = self.namespace.command_subject(C::VERB);
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        // The request's trace goes on to the coordinator that answers.
        let headers = TraceContext::current().nats_headers();
        loop {
            let (subject, payload) = (subject.clone(), payload.clone().into());
            let request = async {
                match &headers {
                    Some(h) => {
                        let h = h.clone();
                        self.nats.request_with_headers(subject, h, payload).await
                    }
                    None => self.nats.request(subject, payload).await,
                }
            };
            let left = self.timeout.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, request).await {
                Err(_) => {
                    return Err(ApiError::Unavailable(format!(
                        "no coordinator answered {} within {} s",
                        C::VERB,
                        self.timeout.as_secs()
                    )));
                }
                Ok(Ok(message)) => {
                    let reply: Reply<C::Reply> =
                        serde_json::from_slice(&message.payload).map_err(|e| {
                            ApiError::internal(format!("unreadable answer to {}: {e}", C::VERB))
                        })?;
                    let result: Result<C::Reply, _> = reply.into();
                    return result.map_err(ApiError::from);
                }
                Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                    if started.elapsed() > NO_RESPONDERS_PATIENCE {
                        return Err(ApiError::Unavailable(
                            "no coordinator is running; start `planexec coordinator` (or `planexec up`)".into(),
                        ));
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                // The coordinator that took it may have died before answering: a command
                // safe to send twice goes again, to whichever coordinator takes it now.
                Ok(Err(e))
                    if C::RETRY_SAFE && e.kind() == async_nats::RequestErrorKind::TimedOut =>
                {
                    tracing::warn!(
                        command = C::VERB,
                        "no answer from the coordinator that took the command; sending it again"
                    );
                }
                Ok(Err(e)) => {
                    return Err(ApiError::Unavailable(format!(
                        "cannot reach the coordinators: {e}"
                    )));
                }
            }
        }
    }
}
