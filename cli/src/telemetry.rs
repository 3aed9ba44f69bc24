//! The tracing subscriber, built once per process: `PLANEXE_LOG` (or `RUST_LOG`) selects what
//! is logged, `PLANEXEC_LOG_FORMAT=json` (or `PLANEXE_LOG_FORMAT=json`) switches to JSON lines
//! for log collectors, each with its fields at the top level and the spans it happened in (the
//! HTTP request's `request_id`, method and path).

use tracing_subscriber::EnvFilter;

/// What is logged when nothing says otherwise: INFO and up of our own crates, including the
/// gateway's access log (`planexec::access`), and only warnings of the noisy libraries.
const DEFAULT_FILTER: &str = "info,sqlx=warn,async_nats=warn,tower_http=warn";

pub fn init() {
    let filter = std::env::var("PLANEXE_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| DEFAULT_FILTER.to_owned());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json = ["PLANEXEC_LOG_FORMAT", "PLANEXE_LOG_FORMAT"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|f| f.eq_ignore_ascii_case("json")));
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init();
    } else {
        builder.init();
    }
}
