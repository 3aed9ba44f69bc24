//! W3C trace context across processes: `traceparent` (and `tracestate`) in NATS message headers
//! and HTTP headers, written from the current span and read into a span's parent.
//!
//! A trace context travels as text ([`TraceContext`]) where it must be stored with work that
//! is done later (a dispatch published after its transaction commits).

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header names of the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// A span's trace context as its headers, to be written onto a message later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext(Vec<(String, String)>);

impl TraceContext {
    /// The context of the current span; empty when traces are not exported.
    pub fn current() -> Self {
        let context = tracing::Span::current().context();
        let mut fields = HashMap::new();
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&context, &mut MapInjector(&mut fields))
        });
        let mut pairs: Vec<(String, String)> = fields.into_iter().collect();
        pairs.sort();
        Self(pairs)
    }

    /// The context that NATS message `headers` carry.
    pub fn from_nats(headers: Option<&async_nats::HeaderMap>) -> Self {
        let Some(headers) = headers else {
            return Self::default();
        };
        Self::from_pairs(|name| headers.get(name).map(|v| v.as_str().to_owned()))
    }

    /// The context that HTTP `headers` carry.
    pub fn from_http(headers: &http::HeaderMap) -> Self {
        Self::from_pairs(|name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
    }

    fn from_pairs(get: impl Fn(&str) -> Option<String>) -> Self {
        Self(
            [TRACEPARENT, TRACESTATE]
                .into_iter()
                .filter_map(|name| get(name).map(|value| (name.to_owned(), value)))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The header names and values.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The `traceparent` value, when there is one.
    pub fn traceparent(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == TRACEPARENT)
            .map(|(_, value)| value.as_str())
    }

    /// Makes this context the parent of `span` (nothing when empty or not exported).
    pub fn parent_of(&self, span: &tracing::Span) {
        if self.is_empty() {
            return;
        }
        let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(self));
        // Only fails when the span is disabled or has no OpenTelemetry layer: nothing to follow.
        let _ = span.set_parent(parent);
    }

    /// Writes this context onto NATS message headers.
    pub fn write_nats(&self, headers: &mut async_nats::HeaderMap) {
        for (name, value) in &self.0 {
            headers.insert(name.as_str(), value.as_str());
        }
    }

    /// NATS headers holding this context, or `None` when it is empty.
    pub fn nats_headers(&self) -> Option<async_nats::HeaderMap> {
        if self.is_empty() {
            return None;
        }
        let mut headers = async_nats::HeaderMap::new();
        self.write_nats(&mut headers);
        Some(headers)
    }

    /// Writes this context onto HTTP headers.
    pub fn write_http(&self, headers: &mut http::HeaderMap) {
        for (name, value) in &self.0 {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
    }
}

impl Extractor for TraceContext {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }
}

struct MapInjector<'a>(&'a mut HashMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_context_is_read_from_nats_and_http_headers_and_written_back() {
        let mut nats = async_nats::HeaderMap::new();
        nats.insert("traceparent", PARENT);
        let from_nats = TraceContext::from_nats(Some(&nats));
        assert_eq!(from_nats.traceparent(), Some(PARENT));

        let mut http = http::HeaderMap::new();
        from_nats.write_http(&mut http);
        let from_http = TraceContext::from_http(&http);
        assert_eq!(from_http, from_nats);
        let again = from_http.nats_headers().expect("headers");
        assert_eq!(again.get("traceparent").map(|v| v.as_str()), Some(PARENT));
    }

    #[test]
    fn without_an_exporter_nothing_is_carried() {
        assert!(TraceContext::current().is_empty());
        assert!(TraceContext::from_nats(None).nats_headers().is_none());
    }
}
