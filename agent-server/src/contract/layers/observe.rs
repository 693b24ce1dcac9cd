//! What operators see of each invocation: an `invocation` span of the log (the session and request
//! ids, and the trace and span ids for the log lines within it), a server span continuing the
//! caller's trace when trace propagation is on (with the session in its baggage), one `invocation
//! finished` line with its status and time, a warning naming a failure's kind, and the invocation
//! metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use futures::FutureExt;
use futures::future::BoxFuture;
use opentelemetry::context::FutureExt as _;
use tracing::Instrument;

use crate::contract::invocation::{Answer, Invocation};
use crate::entrypoint::Output;
use crate::observability::invocation_metrics::InvocationMetrics;
use crate::observability::trace_context::{self, ServerSpan, TraceContext};

use super::stage::{Next, Stage};

/// The target (the JSON log's `logger`) of every invocation's own lines, named for what they are
/// rather than for the file that writes them, so filters and queries outlive the code's layout.
pub(crate) const LOG_TARGET: &str = "agent_server::invocation";

/// Observes each invocation through the rest of the pipeline.
#[derive(Clone)]
pub(crate) struct Observe {
    trace_context: Option<Arc<TraceContext>>,
    metrics: Arc<InvocationMetrics>,
}

impl Observe {
    /// With a trace context, each invocation gets a server span continuing its caller's trace;
    /// without, no trace header is read and no span is made.
    pub(crate) fn new(
        trace_context: Option<Arc<TraceContext>>,
        metrics: Arc<InvocationMetrics>,
    ) -> Self {
        Self {
            trace_context,
            metrics,
        }
    }

    /// The `invocation` span of the log, and the OpenTelemetry context the invocation runs in
    /// when it is traced.
    fn spans(&self, invocation: &Invocation) -> (tracing::Span, Option<opentelemetry::Context>) {
        let context = &invocation.context;
        let span = tracing::info_span!(
            "invocation",
            session_id = %context.session_id,
            request_id = %context.request_id,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        let traced = self.trace_context.as_ref().map(|trace_context| {
            let cx = trace_context.server_span(ServerSpan {
                name: invocation.route.span_name(),
                route: invocation.route.path(),
                headers: &invocation.headers,
                session_id: context.session_id.as_str(),
                request_id: &context.request_id,
                user: context.user_id.as_deref(),
            });
            trace_context::record_ids(&span, &cx);
            cx
        });
        (span, traced)
    }
}

impl Stage for Observe {
    fn run(&self, invocation: Invocation, next: Next) -> BoxFuture<'static, Answer> {
        let started = Instant::now();
        let (span, traced) = self.spans(&invocation);
        let answer = next(invocation).instrument(span.clone());
        let metrics = self.metrics.clone();
        let observed = async move {
            let answer = match &traced {
                Some(cx) => answer.with_context(cx.clone()).await,
                None => answer.await,
            };
            let status = status_of(&answer);
            if let Some(cx) = &traced {
                trace_context::end_server_span(cx, status.as_u16());
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
            metrics.record(status, started);
            answer
        };
        observed.boxed()
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
