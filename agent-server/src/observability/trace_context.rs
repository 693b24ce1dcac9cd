//! The caller's trace, continued: W3C `traceparent` / `tracestate` and `baggage` read from a
//! request (or a `/ws` handshake), so an invocation's spans are children of the span that sent it
//! — the AgentCore service forwards these headers — and the session (and its user, when known)
//! added to the baggage, from which every span of the invocation takes `session.id` and
//! `enduser.id` (which the `Telemetry` layers export).
//!
//! Without a tracing-opentelemetry layer installed, the context is built and goes nowhere.

use axum::http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::{Extractor, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The baggage key of the runtime session id, copied onto every span as an attribute.
pub(crate) const SESSION_ID_KEY: &str = "session.id";
/// The baggage key of the user, copied onto every span as an attribute.
pub(crate) const END_USER_KEY: &str = "enduser.id";

/// Reads trace context and baggage from headers.
pub(crate) struct TraceContext {
    propagator: TextMapCompositePropagator,
}

impl Default for TraceContext {
    fn default() -> Self {
        Self {
            propagator: TextMapCompositePropagator::new(vec![
                Box::new(TraceContextPropagator::new()),
                Box::new(BaggagePropagator::new()),
            ]),
        }
    }
}

impl TraceContext {
    /// Makes `span` a child of the caller's span, its baggage the caller's with the session
    /// id and, when known, the user.
    pub(crate) fn continue_in(
        &self,
        span: &Span,
        headers: &HeaderMap,
        session_id: &str,
        user: Option<&str>,
    ) {
        let caller = self.propagator.extract(&Headers(headers));
        let _ = span.set_parent(with_session(&caller, session_id, user));
    }
}

/// Opens `span` as a child of the current span, adding the session and the user to the
/// baggage it passes on: for spans that learn the user later than the request's span (the
/// tutorial reads it from the payload). Nothing to do where nothing is traced.
pub(crate) fn child_for_session(span: &Span, session_id: &str, user: Option<&str>) {
    let parent = Span::current().context();
    if parent.has_active_span() {
        let _ = span.set_parent(with_session(&parent, session_id, user));
    }
}

/// Puts the span's trace and span ids in its `trace_id` and `span_id` fields, when it is traced,
/// so log lines within it name them.
pub(crate) fn record_ids(span: &Span) {
    let cx = span.context();
    let span_context = cx.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", tracing::field::display(span_context.trace_id()));
        span.record("span_id", tracing::field::display(span_context.span_id()));
    }
}

fn with_session(cx: &Context, session_id: &str, user: Option<&str>) -> Context {
    let mut baggage: Baggage = cx
        .baggage()
        .iter()
        .map(|(key, (value, metadata))| (key.clone(), (value.clone(), metadata.clone())))
        .collect();
    let _ = baggage.insert(SESSION_ID_KEY, session_id.to_owned());
    if let Some(user) = user {
        let _ = baggage.insert(END_USER_KEY, user.to_owned());
    }
    cx.with_baggage(baggage)
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_trace_and_baggage_come_with_the_session_added() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .unwrap(),
        );
        headers.insert(
            "baggage",
            "enduser.id=alice,session.id=forged,tenant=acme"
                .parse()
                .unwrap(),
        );
        let caller = TraceContext::default()
            .propagator
            .extract(&Headers(&headers));
        let cx = with_session(&caller, "s-1", None);
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        let baggage = cx.baggage();
        assert_eq!(baggage.get(SESSION_ID_KEY).unwrap().as_str(), "s-1");
        assert_eq!(baggage.get(END_USER_KEY).unwrap().as_str(), "alice");
        assert_eq!(baggage.get("tenant").unwrap().as_str(), "acme");
        let named = with_session(&cx, "s-1", Some("1"));
        assert_eq!(named.baggage().get(END_USER_KEY).unwrap().as_str(), "1");
    }
}
