//! OpenTelemetry traces and metrics over OTLP, configured only by the standard variables, for the
//! binary to install as OpenTelemetry's global providers: the library and `agent-core` make
//! their spans and instruments through the `opentelemetry` API, from the global providers, and
//! record nothing while none is installed.
//!
//! Nothing is set up — no exporter, no background thread — unless an OTLP endpoint is named
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` for one signal) and `OTEL_SDK_DISABLED` is not `true`.
//! The rest is read by the OpenTelemetry crates themselves: `OTEL_EXPORTER_OTLP_PROTOCOL`
//! (`http/protobuf` by default, or `grpc`), `OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`,
//! `OTEL_SERVICE_NAME` (`agent-server` when unset), `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER` and `OTEL_BSP_*`. Spans go through a batch processor with a bounded
//! queue on its own thread: when the collector is slow or down, spans past the queue are dropped
//! and counted, and an invocation never waits for an export. [`Telemetry::shutdown`] flushes
//! what is queued.

use std::env;
use std::sync::Arc;

use agent_core::session::SessionStore;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{MetricExporter, SpanExporter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracerProvider, Span, SpanData, SpanProcessor,
};
use thiserror::Error;

use super::trace_context::{END_USER_KEY, SESSION_ID_KEY};

/// The service name when the environment names none.
const DEFAULT_SERVICE_NAME: &str = "agent-server";

/// The exporters running, for as long as the server does.
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

/// Why telemetry could not be set up as the environment asks.
#[derive(Debug, Error)]
#[error("OpenTelemetry could not be set up from the OTEL_* variables: {0}")]
pub struct TelemetryError(String);

impl Telemetry {
    /// The exporters the environment asks for; `None` when it asks for none.
    pub fn from_env() -> Result<Option<Self>, TelemetryError> {
        let set = |name: &str| env::var(name).is_ok_and(|value| !value.trim().is_empty());
        if env::var("OTEL_SDK_DISABLED")
            .is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"))
        {
            return Ok(None);
        }
        let generic = set("OTEL_EXPORTER_OTLP_ENDPOINT");
        let traces = generic || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let metrics = generic || set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
        if !traces && !metrics {
            return Ok(None);
        }
        let resource = resource();
        let failed =
            |error: opentelemetry_otlp::ExporterBuildError| TelemetryError(error.to_string());
        let tracer = traces
            .then(|| {
                SpanExporter::builder().build().map(|exporter| {
                    SdkTracerProvider::builder()
                        .with_resource(resource.clone())
                        .with_span_processor(SessionAttributes {
                            next: BatchSpanProcessor::builder(exporter).build(),
                        })
                        .build()
                })
            })
            .transpose()
            .map_err(failed)?;
        let meter = metrics
            .then(|| {
                MetricExporter::builder().build().map(|exporter| {
                    SdkMeterProvider::builder()
                        .with_resource(resource.clone())
                        .with_periodic_exporter(exporter)
                        .build()
                })
            })
            .transpose()
            .map_err(failed)?;
        Ok(Some(Self { tracer, meter }))
    }

    /// Whether traces are exported, so callers' traces are worth continuing.
    pub fn exports_traces(&self) -> bool {
        self.tracer.is_some()
    }

    /// Which signals are exported, for the start-up line.
    pub fn describe(&self) -> &'static str {
        match (&self.tracer, &self.meter) {
            (Some(_), Some(_)) => "otlp traces and metrics",
            (Some(_), None) => "otlp traces",
            (None, Some(_)) => "otlp metrics",
            (None, None) => "off",
        }
    }

    /// Makes these providers OpenTelemetry's global ones, which the runtime's spans and
    /// instruments come from. Install before building agents and the app: each takes its tracer
    /// and instruments from the global providers when it is made.
    pub fn install(&self) {
        if let Some(provider) = &self.tracer {
            opentelemetry::global::set_tracer_provider(provider.clone());
        }
        if let Some(provider) = &self.meter {
            opentelemetry::global::set_meter_provider(provider.clone());
        }
    }

    /// Reports how many invocations are in flight (`in_flight`, such as
    /// `AgentCoreApp::in_flight`) and what `sessions` hold as gauges read at each export
    /// (`agentcore.invocations.in_flight`, `agentcore.sessions.live` for a store in this
    /// process), rather than as an event on every change.
    pub fn observe(
        &self,
        in_flight: impl Fn() -> usize + Send + Sync + 'static,
        sessions: Arc<dyn SessionStore>,
    ) {
        let Some(provider) = &self.meter else {
            return;
        };
        let meter = provider.meter("agent-server");
        // The meter provider keeps the callbacks; the instruments' handles are not needed.
        meter
            .u64_observable_gauge("agentcore.invocations.in_flight")
            .with_description("Invocations being served")
            .with_callback(move |gauge| gauge.observe(in_flight() as u64, &[]))
            .build();
        meter
            .u64_observable_gauge("agentcore.sessions.live")
            .with_description("Sessions held in this process")
            .with_callback(move |gauge| {
                if let Some(live) = sessions.live_sessions() {
                    gauge.observe(live as u64, &[]);
                }
            })
            .build();
    }

    /// Exports what is queued and stops the exporters.
    pub fn shutdown(self) {
        if let Some(tracer) = self.tracer
            && let Err(error) = tracer.shutdown()
        {
            tracing::warn!(%error, "flushing the trace exporter failed");
        }
        if let Some(meter) = self.meter
            && let Err(error) = meter.shutdown()
        {
            tracing::warn!(%error, "flushing the metric exporter failed");
        }
    }
}

/// The resource from the environment, named `agent-server` unless it names itself.
fn resource() -> Resource {
    let named = env::var("OTEL_SERVICE_NAME").is_ok()
        || env::var("OTEL_RESOURCE_ATTRIBUTES")
            .is_ok_and(|attributes| attributes.contains("service.name="));
    let builder = Resource::builder();
    if named {
        builder.build()
    } else {
        builder.with_service_name(DEFAULT_SERVICE_NAME).build()
    }
}

/// Puts the session id and the user from the baggage on every span started in an invocation,
/// so a trace backend (AgentCore's evaluations find an agent's spans by `session.id`) can select
/// any of them, then hands the span to the batch exporter. One processor wrapping the other,
/// since the SDK copies a finished span for each processor when there are several.
#[derive(Debug)]
struct SessionAttributes<P> {
    next: P,
}

impl<P: SpanProcessor> SpanProcessor for SessionAttributes<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        use opentelemetry::trace::Span as _;
        let baggage = cx.baggage();
        for key in [SESSION_ID_KEY, END_USER_KEY] {
            if let Some(value) = baggage.get(key) {
                span.set_attribute(KeyValue::new(key, value.clone()));
            }
        }
        self.next.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.next.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.next.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.next.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.next.set_resource(resource);
    }
}
