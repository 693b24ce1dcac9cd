//! What an agent reports, in the OpenTelemetry GenAI semantic conventions: an
//! `invoke_agent {agent}` span per invocation (opened by whoever runs the turn, as an
//! [`InvocationSpan`]), a `chat {model}` span per model call (its retries included) and an
//! `execute_tool {tool}` span per tool call, and the conventions' client metrics
//! `gen_ai.client.token.usage` and `gen_ai.client.operation.duration`.
//!
//! They go through the `opentelemetry` API itself, not through `tracing`: attributes keep their
//! types (counts are integers, times are doubles), and nothing is paid per poll of a future but
//! attaching a context. They reach whatever tracer and meter providers the process installed as
//! OpenTelemetry's global ones; with none installed, every span is a no-op that records nothing
//! and no attribute is even built. The tracer and the instruments are taken from the global
//! providers when an agent is built, as OpenTelemetry's instruments always are, so a process
//! installs its providers before it builds its agents.
//!
//! Each span is a child of the current OpenTelemetry context ([`opentelemetry::Context::current`]),
//! and each model and tool call runs with its own span's context attached, so what a tool traces
//! is a child of its `execute_tool` span. Message content is recorded only when the agent is
//! configured to (`AgentConfig::record_content`).

mod metrics;
mod spans;

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::{InstrumentationScope, KeyValue, StringValue};

pub(crate) use self::spans::GenAiSpan;
pub use self::spans::InvocationSpan;

use self::metrics::GenAiMetrics;

/// The provider every model of this crate speaks for: Bedrock Converse.
pub const PROVIDER: &str = "aws.bedrock";

/// The instrumentation scope of everything this crate reports.
const SCOPE: &str = "agent-core";

/// An agent's tracer and instruments, and the attributes every one of its reports repeats, made
/// once when the agent is built.
pub(crate) struct Telemetry {
    tracer: BoxedTracer,
    metrics: GenAiMetrics,
    agent: StringValue,
    model: StringValue,
    chat_name: Cow<'static, str>,
    agent_name: Cow<'static, str>,
    record_content: bool,
}

impl Telemetry {
    /// For the agent `agent` on the model `model` (`unknown` when it names none), from the
    /// global providers as they are now.
    pub(crate) fn from_global(agent: &str, model: Option<&str>, record_content: bool) -> Self {
        let scope = InstrumentationScope::builder(SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let model = model.unwrap_or("unknown");
        Self {
            tracer: global::tracer_with_scope(scope.clone()),
            metrics: GenAiMetrics::new(&global::meter_with_scope(scope)),
            agent: StringValue::from(Arc::<str>::from(agent)),
            model: StringValue::from(Arc::<str>::from(model)),
            chat_name: Cow::Owned(format!("chat {model}")),
            agent_name: Cow::Owned(format!("invoke_agent {agent}")),
            record_content,
        }
    }

    /// `gen_ai.request.model`, its text shared (reference-counted) rather than copied into each
    /// report.
    fn model_attribute(&self) -> KeyValue {
        KeyValue::new("gen_ai.request.model", self.model.clone())
    }
}

/// The attributes every GenAI span starts with: the operation and the provider, under both the
/// current name and the one older receivers read.
fn operation(name: &'static str) -> [KeyValue; 3] {
    [
        KeyValue::new("gen_ai.operation.name", name),
        KeyValue::new("gen_ai.provider.name", PROVIDER),
        KeyValue::new("gen_ai.system", PROVIDER),
    ]
}

/// A count as the signed integer OTLP carries integers in.
fn integer(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
