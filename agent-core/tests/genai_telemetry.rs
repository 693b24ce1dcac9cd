//! The GenAI spans and metrics an agent reports, read back from OpenTelemetry's in-memory
//! exporters installed as the global providers: names, kinds, parents, typed attributes, and how
//! failures show. A binary of its own, since it installs the process's global providers; each
//! test runs under a root span of its own and reads only its own trace.

use std::sync::{Arc, OnceLock};

use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
use agent_core::{
    Agent, AgentConfig, Conversation, ConverseRequest, Model, ModelError, ModelResponse,
    RetryPolicy, Tool, ToolContext, ToolError, ToolOutput, ToolSpec, Usage,
};
use async_trait::async_trait;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, TraceId, Tracer, TracerProvider,
};
use opentelemetry::{Context, KeyValue, Value as OtelValue, global};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::{Value, json};

struct Exporters {
    spans: InMemorySpanExporter,
    tracer: SdkTracerProvider,
    metrics: InMemoryMetricExporter,
    meter: SdkMeterProvider,
}

/// The in-memory exporters, installed as the global providers once for the whole binary.
fn exporters() -> &'static Exporters {
    static EXPORTERS: OnceLock<Exporters> = OnceLock::new();
    EXPORTERS.get_or_init(|| {
        let spans = InMemorySpanExporter::default();
        let tracer = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let metrics = InMemoryMetricExporter::default();
        let meter = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        global::set_tracer_provider(tracer.clone());
        global::set_meter_provider(meter.clone());
        Exporters {
            spans,
            tracer,
            metrics,
            meter,
        }
    })
}

/// A tool that answers, or fails when asked to.
struct Weather;

#[async_trait]
impl Tool for Weather {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "weather".into(),
            description: "the weather".into(),
            input_schema: json!({"type": "object", "properties": {"fail": {"type": "boolean"}}}),
        }
    }

    async fn call(&self, input: Value, _context: &ToolContext) -> Result<ToolOutput, ToolError> {
        if input["fail"] == json!(true) {
            return Err(ToolError::new("no forecast"));
        }
        Ok(ToolOutput::text("sunny"))
    }
}

/// A scripted model under a model id of its own, so its metrics are told apart from the other
/// tests' (metrics are summed over the process).
struct Named(&'static str, ScriptedModel);

#[async_trait]
impl Model for Named {
    fn model_id(&self) -> Option<&str> {
        Some(self.0)
    }

    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        self.1.converse(request).await
    }
}

impl std::fmt::Display for Named {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { self.0.into() };
        formatter.write_str(&text)
    }
}

fn used(mut response: ModelResponse, input: u64, output: u64) -> ModelResponse {
    response.usage = Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: input + output,
    };
    response
}

fn agent(name: &str, model: impl Model + 'static) -> Agent {
    exporters();
    Agent::builder(Arc::new(model))
        .name(name)
        .tool(Arc::new(Weather))
        .unwrap()
        .config(AgentConfig {
            retry: RetryPolicy {
                max_attempts: 2,
                initial_delay: std::time::Duration::from_millis(1),
                max_delay: std::time::Duration::from_millis(1),
            },
            ..AgentConfig::default()
        })
        .build()
}

/// Runs `prompt` on `agent` in its invocation span under a root span of the test's own; returns
/// the spans of that trace once all have ended, and the reply's error kind if it failed.
async fn traced(agent: &Agent, prompt: &str) -> (Vec<SpanData>, Option<&'static str>) {
    let root = exporters().tracer.tracer("test").start("root");
    let trace_id = root.span_context().trace_id();
    let cx = Context::current_with_span(root);
    let span = {
        let _attached = cx.clone().attach();
        agent.invocation_span(prompt)
    };
    let mut conversation = Conversation::new();
    let outcome = span
        .around(agent.invoke(&mut conversation, prompt))
        .with_context(cx.clone())
        .await;
    let failed = outcome.as_ref().err().map(|error| error.kind());
    span.end(outcome.as_ref().map_err(|error| error.kind()));
    cx.span().end();
    (of_trace(trace_id), failed)
}

fn of_trace(trace_id: TraceId) -> Vec<SpanData> {
    exporters()
        .spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|span| span.span_context.trace_id() == trace_id)
        .collect()
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|span| span.name == name).collect()
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a OtelValue> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key.as_str() == key)
        .map(|attribute| &attribute.value)
}

fn text(value: &str) -> Option<OtelValue> {
    Some(OtelValue::from(value.to_owned()))
}

#[tokio::test]
async fn a_tool_round_is_an_agent_span_over_two_chats_and_a_tool_with_typed_attributes() {
    let model = ScriptedModel::sequence(vec![
        Ok(used(
            tool_use_response(&[("tooluse_1", "weather", json!({}))]),
            100,
            20,
        )),
        Ok(used(text_response("It is sunny."), 130, 7)),
    ]);
    let agent = agent("forecaster", model);
    let (spans, failed) = traced(&agent, "weather?").await;
    assert_eq!(failed, None);

    let invocation = named(&spans, "invoke_agent forecaster");
    assert_eq!(invocation.len(), 1);
    let invocation = invocation[0];
    assert_eq!(invocation.span_kind, SpanKind::Internal);
    assert_eq!(
        attribute(invocation, "gen_ai.agent.name").cloned(),
        text("forecaster")
    );
    assert_eq!(
        attribute(invocation, "gen_ai.usage.input_tokens"),
        Some(&OtelValue::I64(230)),
        "summed over the calls, as an integer"
    );
    assert_eq!(
        attribute(invocation, "gen_ai.usage.output_tokens"),
        Some(&OtelValue::I64(27))
    );
    assert_eq!(
        attribute(invocation, "gen_ai.response.finish_reasons").cloned(),
        text("end_turn")
    );
    assert!(attribute(invocation, "gen_ai.input.messages").is_none());

    let chats = named(&spans, "chat unknown");
    assert_eq!(chats.len(), 2);
    for chat in &chats {
        assert_eq!(chat.span_kind, SpanKind::Client);
        assert_eq!(chat.parent_span_id, invocation.span_context.span_id());
        assert_eq!(
            attribute(chat, "gen_ai.operation.name").cloned(),
            text("chat")
        );
        assert_eq!(
            attribute(chat, "gen_ai.provider.name").cloned(),
            text("aws.bedrock")
        );
        assert_eq!(
            attribute(chat, "gen_ai.request.attempts"),
            Some(&OtelValue::I64(1))
        );
        assert_eq!(chat.status, Status::Unset);
    }
    let tokens: Vec<_> = chats
        .iter()
        .map(|chat| attribute(chat, "gen_ai.usage.input_tokens").cloned())
        .collect();
    assert!(tokens.contains(&Some(OtelValue::I64(100))));
    assert!(tokens.contains(&Some(OtelValue::I64(130))));

    let tool = named(&spans, "execute_tool weather");
    assert_eq!(tool.len(), 1);
    assert_eq!(tool[0].parent_span_id, invocation.span_context.span_id());
    assert_eq!(
        attribute(tool[0], "gen_ai.tool.call.id").cloned(),
        text("tooluse_1")
    );
    assert_eq!(
        attribute(tool[0], "gen_ai.tool.status").cloned(),
        text("success")
    );
    assert!(attribute(tool[0], "gen_ai.tool.call.arguments").is_none());
}

#[tokio::test]
async fn a_failed_tool_and_a_failed_model_mark_their_spans_as_errors() {
    let model = ScriptedModel::sequence(vec![
        Ok(tool_use_response(&[(
            "tooluse_2",
            "weather",
            json!({"fail": true}),
        )])),
        Err(ModelError::Rejected {
            message: "refused".into(),
        }),
    ]);
    let agent = agent("failing", model);
    let (spans, failed) = traced(&agent, "weather?").await;
    let failed = failed.expect("the second model call failed");

    let tool = named(&spans, "execute_tool weather")[0];
    assert_eq!(
        attribute(tool, "gen_ai.tool.status").cloned(),
        text("error")
    );
    assert_eq!(attribute(tool, "error.type").cloned(), text("tool_error"));
    assert!(matches!(tool.status, Status::Error { .. }));

    let chats = named(&spans, "chat unknown");
    assert_eq!(chats.len(), 2);
    let refused = chats
        .iter()
        .find(|chat| attribute(chat, "error.type").is_some())
        .expect("the refused call");
    assert_eq!(attribute(refused, "error.type").cloned(), text(failed));
    assert!(matches!(refused.status, Status::Error { .. }));
    assert!(attribute(refused, "gen_ai.usage.input_tokens").is_none());

    let invocation = named(&spans, "invoke_agent failing")[0];
    assert_eq!(attribute(invocation, "error.type").cloned(), text(failed));
    assert!(matches!(invocation.status, Status::Error { .. }));
}

#[tokio::test]
async fn with_content_recorded_the_spans_carry_the_prompt_arguments_result_and_answer() {
    let model = ScriptedModel::sequence(vec![
        Ok(tool_use_response(&[("tooluse_3", "weather", json!({}))])),
        Ok(text_response("Sunny.")),
    ]);
    exporters();
    let agent = Agent::builder(Arc::new(model))
        .name("recording")
        .tool(Arc::new(Weather))
        .unwrap()
        .config(AgentConfig {
            record_content: true,
            ..AgentConfig::default()
        })
        .build();
    let (spans, _) = traced(&agent, "weather?").await;
    let invocation = named(&spans, "invoke_agent recording")[0];
    assert_eq!(
        attribute(invocation, "gen_ai.input.messages").cloned(),
        text("weather?")
    );
    assert_eq!(
        attribute(invocation, "gen_ai.output.messages").cloned(),
        text("Sunny.")
    );
    let tool = named(&spans, "execute_tool weather")[0];
    assert_eq!(
        attribute(tool, "gen_ai.tool.call.arguments").cloned(),
        text("{}")
    );
    assert_eq!(
        attribute(tool, "gen_ai.tool.call.result").cloned(),
        text("sunny")
    );
}

#[tokio::test]
async fn token_usage_is_an_integer_histogram_by_token_type() {
    let model = ScriptedModel::sequence(vec![Ok(used(text_response("Hello."), 41, 5))]);
    let agent = agent("metered", Named("metered-model", model));
    let (_, failed) = traced(&agent, "hello").await;
    assert_eq!(failed, None);
    exporters().meter.force_flush().unwrap();
    let exported = exporters().metrics.get_finished_metrics().unwrap();
    let mut by_type = Vec::new();
    let mut durations = 0;
    for metric in exported
        .iter()
        .flat_map(|resource| resource.scope_metrics())
        .flat_map(|scope| scope.metrics())
    {
        match (metric.name(), metric.data()) {
            (
                "gen_ai.client.token.usage",
                AggregatedMetrics::U64(MetricData::Histogram(histogram)),
            ) => {
                assert_eq!(metric.unit(), "{token}");
                for point in histogram.data_points() {
                    let attributes: Vec<&KeyValue> = point.attributes().collect();
                    let value = |key: &str| {
                        attributes
                            .iter()
                            .find(|kv| kv.key.as_str() == key)
                            .map(|kv| kv.value.to_string())
                    };
                    if value("gen_ai.request.model").as_deref() == Some("metered-model") {
                        assert_eq!(value("gen_ai.operation.name").as_deref(), Some("chat"));
                        assert_eq!(point.count(), 1);
                        by_type.push((value("gen_ai.token.type").unwrap(), point.sum()));
                    }
                }
            }
            ("gen_ai.client.token.usage", other) => panic!("not a u64 histogram: {other:?}"),
            (
                "gen_ai.client.operation.duration",
                AggregatedMetrics::F64(MetricData::Histogram(histogram)),
            ) => {
                assert_eq!(metric.unit(), "s");
                durations += histogram
                    .data_points()
                    .filter(|point| {
                        point.attributes().any(|kv| {
                            kv.key.as_str() == "gen_ai.request.model"
                                && kv.value.as_str() == "metered-model"
                        })
                    })
                    .count();
            }
            _ => {}
        }
    }
    by_type.sort();
    assert_eq!(
        by_type,
        [("input".to_owned(), 41), ("output".to_owned(), 5)],
        "one reading a type, as integers"
    );
    assert_eq!(durations, 1, "one model call's duration");
}
