//! What operators see of each invocation: an `invocation` span (a server span continuing the
//! caller's trace when trace propagation is on, with the session in its baggage, and the trace
//! and span ids as fields for the log lines within it), one `invocation finished` line with its
//! status and time, a warning naming a failure's kind, and the invocation metrics:
//! `agentcore.invocations` by status and `agentcore.invocation.duration` (to the start of the
//! response, for a stream).

use std::sync::Arc;
use std::time::Instant;

use agent_core::telemetry::METRICS_TARGET;
use axum::http::StatusCode;
use futures::FutureExt;
use futures::future::BoxFuture;
use tracing::Instrument;

use crate::contract::invocation::{Answer, Invocation};
use crate::entrypoint::Output;
use crate::observability::trace_context::{TraceContext, record_ids};

use super::stage::{Next, Stage};

/// The target (the JSON log's `logger`) of every invocation's own lines, named for what they are
/// rather than for the file that writes them, so filters and queries outlive the code's layout.
pub(crate) const LOG_TARGET: &str = "agent_server::invocation";

/// Observes each invocation through the rest of the pipeline.
#[derive(Clone)]
pub(crate) struct Observe {
    trace_context: Option<Arc<TraceContext>>,
}

impl Observe {
    /// With a trace context, callers' traces are continued; without, no trace header is read.
    pub(crate) fn new(trace_context: Option<Arc<TraceContext>>) -> Self {
        Self { trace_context }
    }

    fn span(&self, invocation: &Invocation) -> tracing::Span {
        let context = &invocation.context;
        let span = tracing::info_span!(
            "invocation",
            otel.name = invocation.route.span_name(),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            session_id = %context.session_id,
            request_id = %context.request_id,
            "http.route" = invocation.route.path(),
            "http.response.status_code" = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        if let Some(trace_context) = &self.trace_context {
            trace_context.continue_in(
                &span,
                &invocation.headers,
                context.session_id.as_str(),
                context.user_id.as_deref(),
            );
            record_ids(&span);
        }
        span
    }
}

impl Stage for Observe {
    fn run(&self, invocation: Invocation, next: Next) -> BoxFuture<'static, Answer> {
        let started = Instant::now();
        let span = self.span(&invocation);
        let answer = next(invocation).instrument(span.clone());
        async move {
            let answer = answer.await;
            let status = status_of(&answer);
            span.record("http.response.status_code", i64::from(status.as_u16()));
            if status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
            span.in_scope(|| {
                if let Err(error) = &answer {
                    tracing::warn!(
                        target: LOG_TARGET,
                        %error,
                        error_type = error.kind(),
                        "invocation failed"
                    );
                }
                tracing::info!(
                    target: LOG_TARGET,
                    status = status.as_u16(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "invocation finished"
                )
            });
            report_invocation(status, started);
            answer
        }
        .boxed()
    }
}

/// The status an answer goes out with: a stream's is 200, an entrypoint's own response keeps its.
fn status_of(answer: &Answer) -> StatusCode {
    match answer {
        Ok(Output::Value(_) | Output::Stream(_)) => StatusCode::OK,
        Ok(Output::Response(response)) => response.status(),
        Err(error) => error.status(),
    }
}

/// An answered invocation, as metrics: `agentcore.invocations` by status and
/// `agentcore.invocation.duration`.
pub(crate) fn report_invocation(status: StatusCode, started: Instant) {
    tracing::event!(
        target: METRICS_TARGET,
        tracing::Level::INFO,
        monotonic_counter.agentcore.invocations = 1u64,
        "http.response.status_code" = status.as_u16(),
    );
    tracing::event!(
        target: METRICS_TARGET,
        tracing::Level::INFO,
        histogram.agentcore.invocation.duration = started.elapsed().as_secs_f64(),
        "http.response.status_code" = status.as_u16(),
    );
}
