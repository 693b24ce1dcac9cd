//! OpenTelemetry traces and metrics over OTLP, configured only by the standard variables, for the
//! binary to install: the library itself only emits `tracing` spans and events.
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
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{MetricExporter, SpanExporter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracerProvider, Span, SpanData, SpanProcessor,
};
use thiserror::Error;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{Targets, filter_fn};
use tracing_subscriber::registry::LookupSpan;

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

    /// The layers that turn this process's spans and metric events into OpenTelemetry's, each
    /// behind its own filter. They come as a list rather than as `Option`s joined with
    /// `and_then`: joined so, an absent layer counts as one that wants every callsite, which made
    /// the registry build every `DEBUG` span of the process (the AWS SDK's among them) only to
    /// have them ignored.
    pub fn layers<S>(&self) -> Vec<Box<dyn Layer<S> + Send + Sync + 'static>>
    where
        S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        let mut layers = Vec::new();
        if let Some(provider) = &self.tracer {
            let traces = tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("agent-server"))
                // What a span does on each poll of the future it instruments is paid many
                // times an invocation: no busy/idle clocks, no context attached on entry (the
                // trace's parentage comes from the tracing spans themselves), and no thread,
                // source location or module on every span.
                .with_tracked_inactivity(false)
                .with_context_activation(false)
                .with_threads(false)
                .with_location(false)
                .with_target(false)
                // Spans only — log events stay logs rather than becoming span events, which
                // would give every span an attribute list per log line — at INFO, and this
                // runtime's own GenAI spans, which are at DEBUG.
                .with_filter(
                    filter_fn(|metadata| {
                        metadata.is_span()
                            && (*metadata.level() <= tracing::Level::INFO
                                || metadata.target().starts_with("agent_core")
                                || metadata.target().starts_with("agent_server"))
                    })
                    .with_max_level_hint(tracing::Level::DEBUG),
                );
            layers.push(traces.boxed());
        }
        if let Some(provider) = &self.meter {
            let metrics = tracing_opentelemetry::MetricsLayer::new(provider.clone()).with_filter(
                Targets::new()
                    .with_target(agent_core::telemetry::METRICS_TARGET, tracing::Level::INFO),
            );
            layers.push(metrics.boxed());
        }
        layers
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

#[cfg(test)]
mod tests {
    use tracing::callsite::{DefaultCallsite, Identifier};
    use tracing::field::FieldSet;
    use tracing::metadata::Kind;
    use tracing::{Level, Metadata};
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// A span callsite of `$target` at `$level`, asked of a subscriber directly rather than
    /// through the process-wide interest cache, which other tests' subscribers share.
    macro_rules! probe {
        ($name:ident, $target:literal, $level:expr) => {
            static $name: Metadata<'static> = {
                static CALLSITE: DefaultCallsite = DefaultCallsite::new(&$name);
                Metadata::new(
                    "probe",
                    $target,
                    $level,
                    None,
                    None,
                    None,
                    FieldSet::new(&[], Identifier(&CALLSITE)),
                    Kind::SPAN,
                )
            };
        };
    }
    probe!(
        SDK_DEBUG,
        "aws_smithy_runtime::client::orchestrator",
        Level::DEBUG
    );
    probe!(HYPER_INFO, "hyper_util::client", Level::INFO);
    probe!(GENAI_DEBUG, "agent_core::telemetry", Level::DEBUG);

    /// Whether spans of `callsite` are made under the layers of `telemetry` alone.
    fn made(telemetry: &Telemetry, callsite: &'static Metadata<'static>) -> bool {
        let subscriber = tracing_subscriber::registry().with(telemetry.layers());
        !tracing::Subscriber::register_callsite(&subscriber, callsite).is_never()
    }

    #[test]
    fn traces_alone_make_the_runtimes_spans_and_not_other_crates_debug_spans() {
        let telemetry = Telemetry {
            tracer: Some(SdkTracerProvider::builder().build()),
            meter: None,
        };
        assert!(made(&telemetry, &GENAI_DEBUG));
        assert!(made(&telemetry, &HYPER_INFO));
        assert!(!made(&telemetry, &SDK_DEBUG));
    }

    #[test]
    fn metrics_alone_make_no_span() {
        let telemetry = Telemetry {
            tracer: None,
            meter: Some(SdkMeterProvider::builder().build()),
        };
        for callsite in [&SDK_DEBUG, &HYPER_INFO, &GENAI_DEBUG] {
            assert!(!made(&telemetry, callsite), "{callsite:?}");
        }
    }
}
