//! Decoding a command and encoding its [`Reply`]; a failure the caller cannot fix is logged and
//! answered as `internal`, without its detail.

use std::future::Future;

use planexec_schemas::command::{Command, CommandError, Reply};

/// Decodes `payload` as a `C`, runs `f` on it and encodes the reply.
pub(super) async fn handle<C, F, Fut>(payload: &[u8], f: F) -> Vec<u8>
where
    C: Command,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<C::Reply, CommandError>>,
{
    let result = match serde_json::from_slice::<C>(payload) {
        Ok(command) => f(command).await,
        Err(e) => Err(CommandError::invalid(
            "body",
            format!("not a {} command: {e}", C::VERB),
        )),
    };
    encode(&Reply::from(result))
}

/// The reply as JSON (an `internal` error when it cannot be serialised).
pub(super) fn encode<T: serde::Serialize>(reply: &Reply<T>) -> Vec<u8> {
    serde_json::to_vec(reply).unwrap_or_else(|e| {
        format!(r#"{{"error":{{"kind":"internal","message":"reply not serialisable: {e}"}}}}"#)
            .into_bytes()
    })
}

/// A failure of the coordinator itself: logged, and answered without its detail; the database
/// out of reach is answered as `unavailable` (the caller may try again shortly).
pub(super) fn internal<E: std::fmt::Display + 'static>(e: E) -> CommandError {
    let any: &dyn std::any::Any = &e;
    let down = any
        .downcast_ref::<planexec_store::Error>()
        .is_some_and(planexec_store::Error::is_unavailable)
        || any
            .downcast_ref::<sqlx::Error>()
            .is_some_and(planexec_store::unavailable);
    if down {
        tracing::warn!(error = %e, "command failed: the database is out of reach");
        return CommandError::Unavailable {
            message: "the coordinator cannot reach its database".into(),
        };
    }
    tracing::error!(error = %e, "command failed");
    CommandError::Internal {
        message: "the coordinator failed to complete the command; see its log".into(),
    }
}
