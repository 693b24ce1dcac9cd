//! The runtime's own metrics of each answered invocation: `agentcore.invocations` by status and
//! `agentcore.invocation.duration` (to the start of the response, for a stream), on the global
//! meter provider as it was when the routes were built — nothing is recorded with none installed.

use std::time::Instant;

use axum::http::StatusCode;
use opentelemetry::global;
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::{InstrumentationScope, KeyValue};

/// The two instruments, made once per router.
pub(crate) struct InvocationMetrics {
    invocations: Counter<u64>,
    duration: Histogram<f64>,
}

impl InvocationMetrics {
    pub(crate) fn from_global() -> Self {
        let meter = global::meter_with_scope(
            InstrumentationScope::builder("agent-server")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        Self {
            invocations: meter
                .u64_counter("agentcore.invocations")
                .with_description("Invocations answered, by status")
                .build(),
            duration: meter
                .f64_histogram("agentcore.invocation.duration")
                .with_unit("s")
                .with_description("How long invocations took to answer")
                .build(),
        }
    }

    /// An invocation answered with `status`, started at `started`.
    pub(crate) fn record(&self, status: StatusCode, started: Instant) {
        let attributes = [KeyValue::new(
            "http.response.status_code",
            i64::from(status.as_u16()),
        )];
        self.invocations.add(1, &attributes);
        self.duration
            .record(started.elapsed().as_secs_f64(), &attributes);
    }
}
