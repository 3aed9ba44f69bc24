//! The tracing subscriber, built once per process: `PLANEXE_LOG` (or `RUST_LOG`) selects what
//! is logged, `PLANEXE_LOG_FORMAT=json` switches to JSON lines for log collectors.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("PLANEXE_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info,sqlx=warn,async_nats=warn,tower_http=warn".to_owned());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("PLANEXE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}
