//! Logs and traces for every planexec process.
//!
//! - [`propagate`]: the W3C trace context (`traceparent`) of the current span, written into and
//!   read from NATS and HTTP headers, so that a dispatch, the agent's work and events, and their
//!   commit are one trace. With no exporter configured there is no OpenTelemetry layer: the
//!   current span has no trace context, nothing is written, and reading costs a header lookup.
//! - `init` (feature `export`, for the binaries): the tracing subscriber (`PLANEXE_LOG` filter,
//!   text or `PLANEXE_LOG_FORMAT=json`) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, the OTLP/HTTP exporter of spans.

pub mod propagate;

#[cfg(feature = "export")]
mod export;

#[cfg(feature = "export")]
pub use export::{Telemetry, init};
