//! An agent's event reported through the gateway: applied like one from NATS, and answered
//! with what became of it.

use planexec_schemas::command::{CommandError, ReportEvent, ReportOutcome};
use planexec_schemas::event::Disposition;
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::validate::Validate;
use planexec_telemetry::propagate::TraceContext;

use super::reply::internal;
use crate::engine::{Engine, Item, LockMode, Outcome, Work};

/// Applies the event (validated as the gateway does) and says what became of it.
pub(super) async fn report(engine: &Engine, c: ReportEvent) -> Result<ReportOutcome, CommandError> {
    if let Err(errors) = c.event.validate() {
        return Err(CommandError::Invalid { errors });
    }
    let execution = c.event.execution_id;
    let item = Item {
        execution_id: execution,
        work: Work::Agent {
            sender: c.agent_id,
            event: c.event,
            // The command's span is the parent already.
            trace: TraceContext::default(),
        },
    };
    let result = engine
        .run(&[item], LockMode::Wait)
        .await
        .map_err(internal)?
        .remove(0);
    let (disposition, reason) = match result.outcome {
        Outcome::UnknownExecution | Outcome::Busy => {
            return Err(CommandError::not_found("execution", execution));
        }
        Outcome::Applied => (Disposition::Applied, None),
        Outcome::Duplicate => (Disposition::Duplicate, None),
        Outcome::Rejected(r) => (Disposition::Rejected, Some(format!("{}: {r}", r.code()))),
    };
    Ok(ReportOutcome {
        disposition,
        reason,
        execution_status: result.status.unwrap_or(ExecutionStatus::Created),
        progress: result.progress,
    })
}
