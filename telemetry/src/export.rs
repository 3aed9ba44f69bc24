//! The process's tracing subscriber and, when configured, the OTLP/HTTP export of its spans.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What is logged when nothing says otherwise: INFO and up of our own crates, including the
/// gateway's access log (`planexec::access`), and only warnings of the noisy libraries.
const DEFAULT_FILTER: &str = "info,sqlx=warn,async_nats=warn,tower_http=warn";

/// The environment variables, any of which turns the export on (the OpenTelemetry names).
const ENDPOINTS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// Keeps the exporter for the life of the process; dropping it sends what is left.
#[must_use = "dropping it stops the export"]
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("planexec: the last spans were not exported: {e}");
        }
    }
}

/// Installs the subscriber once per process. `service` names the process in traces unless
/// `OTEL_SERVICE_NAME` does. A bad exporter setting is reported and the process goes on
/// without export.
pub fn init(service: &str) -> Telemetry {
    let filter = std::env::var("PLANEXE_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| DEFAULT_FILTER.to_owned());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("PLANEXE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .boxed()
    } else {
        fmt.boxed()
    };
    let (provider, problem) = match ENDPOINTS.iter().any(|v| std::env::var_os(v).is_some()) {
        false => (None, None),
        true => match provider(service) {
            Ok(provider) => (Some(provider), None),
            Err(e) => (None, Some(e)),
        },
    };
    let otel = provider.as_ref().map(|p| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing_opentelemetry::layer().with_tracer(p.tracer("planexec"))
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .init();
    if let Some(e) = problem {
        tracing::error!(error = %e, "the OTLP exporter cannot start; spans are not exported");
    }
    Telemetry { provider }
}

fn provider(service: &str) -> Result<SdkTracerProvider, String> {
    // The exporter builds its own (blocking) reqwest client, which needs the process's TLS
    // provider as every other client does.
    planexec_tls::install();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .map_err(|e| e.to_string())?;
    let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_owned());
    let resource = Resource::builder().with_service_name(name).build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
