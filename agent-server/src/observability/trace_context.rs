//! The caller's trace, continued: W3C `traceparent` / `tracestate` and `baggage` read from a
//! request (or a `/ws` handshake), so an invocation's server span is a child of the span that
//! sent it — the AgentCore service forwards these headers — and the session (and its user, when
//! known) added to the baggage, from which every span of the invocation takes `session.id` and
//! `enduser.id` (the [`Telemetry`](super::Telemetry) span processor copies them).
//!
//! Spans are made through the `opentelemetry` API and reach the process's global tracer
//! provider; with none installed they record nothing.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::HeaderMap;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::propagation::{Extractor, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, InstrumentationScope, KeyValue, StringValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing::Span;

/// The baggage key of the runtime session id, copied onto every span as an attribute.
pub(crate) const SESSION_ID_KEY: &str = "session.id";
/// The baggage key of the user, copied onto every span as an attribute.
pub(crate) const END_USER_KEY: &str = "enduser.id";

/// Reads trace context and baggage from headers, and opens invocations' server spans.
pub(crate) struct TraceContext {
    propagator: TextMapCompositePropagator,
    tracer: BoxedTracer,
}

/// What an invocation's server span starts with.
pub(crate) struct ServerSpan<'a> {
    /// `POST /invocations` or `GET /ws`.
    pub(crate) name: &'static str,
    /// `/invocations` or `/ws`.
    pub(crate) route: &'static str,
    /// The request's (or the handshake's) headers.
    pub(crate) headers: &'a HeaderMap,
    pub(crate) session_id: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) user: Option<&'a str>,
}

impl TraceContext {
    /// With the tracer of the global provider as it is now.
    pub(crate) fn from_global() -> Self {
        let scope = InstrumentationScope::builder("agent-server")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Self {
            propagator: TextMapCompositePropagator::new(vec![
                Box::new(TraceContextPropagator::new()),
                Box::new(BaggagePropagator::new()),
            ]),
            tracer: global::tracer_with_scope(scope),
        }
    }

    /// Starts the invocation's server span as a child of the caller's span, its baggage the
    /// caller's with the session id and, when known, the user: the context the invocation runs
    /// in.
    pub(crate) fn server_span(&self, span: ServerSpan<'_>) -> Context {
        let caller = self.propagator.extract(&Headers(span.headers));
        let parent = with_session(&caller, span.session_id, span.user);
        let started = self.tracer.build_with_context(
            SpanBuilder::from_name(Cow::Borrowed(span.name)).with_kind(SpanKind::Server),
            &parent,
        );
        let cx = parent.with_span(started);
        if cx.span().is_recording() {
            cx.span().set_attributes([
                KeyValue::new("http.route", span.route),
                KeyValue::new("session_id", span.session_id.to_owned()),
                KeyValue::new("request_id", span.request_id.to_owned()),
            ]);
        }
        cx
    }
}

/// Ends the server span of `cx` with the response's status, a server error marking it failed.
pub(crate) fn end_server_span(cx: &Context, status: u16) {
    let span = cx.span();
    if span.is_recording() {
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if status >= 500 {
            span.set_status(Status::error(""));
        }
    }
    span.end();
}

/// Runs `start` (which starts a span) in the current context with the session and the user
/// added to its baggage: for spans that learn the user later than the request's span (the
/// tutorial reads it from the payload). Where nothing is traced, in the context as it is.
pub(crate) fn in_session<T>(session_id: &str, user: Option<&str>, start: impl FnOnce() -> T) -> T {
    let current = Context::current();
    if !current.has_active_span() {
        return start();
    }
    let _attached = with_session(&current, session_id, user).attach();
    start()
}

/// Puts the trace and span ids of `cx`'s span in `span`'s `trace_id` and `span_id` fields, when it
/// is traced, so log lines within it name them.
pub(crate) fn record_ids(span: &Span, cx: &Context) {
    let otel = cx.span();
    let span_context = otel.span_context();
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
    // Shared text: every span of the invocation copies these onto itself.
    let _ = baggage.insert(
        SESSION_ID_KEY,
        StringValue::from(Arc::<str>::from(session_id)),
    );
    if let Some(user) = user {
        let _ = baggage.insert(END_USER_KEY, StringValue::from(Arc::<str>::from(user)));
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
        let caller = TraceContext::from_global()
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
