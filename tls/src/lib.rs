//! The one TLS crypto provider of every planexec process, and the HTTP clients built on it.
//!
//! rustls needs a crypto provider. The connections to PostgreSQL (sqlx) and NATS (async-nats)
//! use ring. reqwest is built with `rustls-no-provider`, so that it does not bring aws-lc-rs as a
//! second provider (a C library built with cmake, in every cold build), and takes the
//! process-wide default instead; it panics when building a client if there is none. So every
//! reqwest client of planexec is built here: [`client_builder`] makes ring the process-wide
//! default first. `scripts/check-structure` refuses a client built anywhere else.

/// Makes ring the process-wide rustls provider, unless one is already installed (a program
/// embedding the agent SDK may have chosen its own on purpose). Cheap after the first call.
pub fn install() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may install at the same moment: then its provider is ring too, and
        // this one's `Err` says only that it lost the race.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// `reqwest::Client::builder()`, with the provider installed.
pub fn client_builder() -> reqwest::ClientBuilder {
    install();
    reqwest::Client::builder()
}

/// `reqwest::Client::new()`, with the provider installed: a client with the defaults.
///
/// # Panics
///
/// As `reqwest::Client::new()`, when the client cannot be built (the system's root certificates
/// cannot be read).
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("an HTTP client with the defaults builds")
}
