//! The spans themselves: each held in the context its children are made in, built only when the
//! span records (a span of no installed provider, or one the sampler left out, builds no
//! attribute).

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use opentelemetry::context::{FutureExt, WithContext};
use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};

use super::{Telemetry, integer, operation};
use crate::agent::reply::AgentReply;
use crate::message::{ToolResult, ToolResultStatus, ToolUse};
use crate::model::{ModelResponse, StopReason, Usage};

/// One span of the loop, in the context that makes it the parent of what runs within it.
pub(crate) struct GenAiSpan {
    cx: Context,
}

impl GenAiSpan {
    /// Starts `name` as a child of the current context; `attributes` are built only if the span
    /// records.
    fn start<A>(
        telemetry: &Telemetry,
        name: Cow<'static, str>,
        kind: SpanKind,
        attributes: impl FnOnce() -> A,
    ) -> Self
    where
        A: IntoIterator<Item = KeyValue>,
    {
        let parent = Context::current();
        let span = telemetry
            .tracer
            .build_with_context(SpanBuilder::from_name(name).with_kind(kind), &parent);
        let cx = parent.with_span(span);
        if cx.span().is_recording() {
            cx.span().set_attributes(attributes());
        }
        Self { cx }
    }

    /// The `chat {model}` span of one model call, retries included.
    pub(crate) fn chat(telemetry: &Telemetry) -> Self {
        Self::start(
            telemetry,
            telemetry.chat_name.clone(),
            SpanKind::Client,
            || {
                let mut attributes = operation("chat").to_vec();
                attributes.push(telemetry.model_attribute());
                attributes
            },
        )
    }

    /// The `execute_tool {tool}` span of one tool call; with `record_content`, its arguments.
    pub(crate) fn tool(telemetry: &Telemetry, tool_use: &ToolUse) -> Self {
        Self::start(
            telemetry,
            Cow::Owned(format!("execute_tool {}", tool_use.name)),
            SpanKind::Internal,
            || {
                let mut attributes = vec![
                    KeyValue::new("gen_ai.operation.name", "execute_tool"),
                    KeyValue::new("gen_ai.tool.name", tool_use.name.clone()),
                    KeyValue::new("gen_ai.tool.call.id", tool_use.tool_use_id.clone()),
                    KeyValue::new("gen_ai.tool.type", "function"),
                ];
                if telemetry.record_content {
                    attributes.push(KeyValue::new(
                        "gen_ai.tool.call.arguments",
                        tool_use.input.to_string(),
                    ));
                }
                attributes
            },
        )
    }

    /// Runs `future` with this span as the current one.
    pub(crate) fn around<F: Future>(&self, future: F) -> WithContext<F> {
        future.with_context(self.cx.clone())
    }

    /// How a model call ended, after `attempts` attempts, its first token (when it streamed)
    /// `first_token` after it started; then the span ends.
    pub(crate) fn end_chat(
        self,
        outcome: Result<&ModelResponse, &'static str>,
        attempts: u32,
        first_token: Option<Duration>,
    ) {
        let span = self.cx.span();
        if span.is_recording() {
            span.set_attribute(KeyValue::new(
                "gen_ai.request.attempts",
                i64::from(attempts),
            ));
            if let Some(first_token) = first_token {
                span.set_attribute(KeyValue::new(
                    "gen_ai.server.time_to_first_token",
                    first_token.as_secs_f64(),
                ));
            }
            match outcome {
                Ok(response) => self.answered(response.usage, &response.stop_reason),
                Err(error_type) => self.failed(error_type),
            }
        }
        span.end();
    }

    /// How a tool call ended; with content recorded, its result. Then the span ends.
    pub(crate) fn end_tool(self, telemetry: &Telemetry, result: &ToolResult) {
        let span = self.cx.span();
        if span.is_recording() {
            let status = match result.status {
                ToolResultStatus::Success => "success",
                ToolResultStatus::Error => {
                    self.failed("tool_error");
                    "error"
                }
            };
            span.set_attribute(KeyValue::new("gen_ai.tool.status", status));
            if telemetry.record_content {
                span.set_attribute(KeyValue::new("gen_ai.tool.call.result", result.text()));
            }
        }
        span.end();
    }

    fn answered(&self, usage: Usage, stop_reason: &StopReason) {
        self.cx.span().set_attributes([
            KeyValue::new("gen_ai.usage.input_tokens", integer(usage.input_tokens)),
            KeyValue::new("gen_ai.usage.output_tokens", integer(usage.output_tokens)),
            KeyValue::new(
                "gen_ai.response.finish_reasons",
                match stop_reason.known_name() {
                    Some(name) => StringValue::from(name),
                    None => StringValue::from(stop_reason.as_str().to_owned()),
                },
            ),
        ]);
    }

    fn failed(&self, error_type: &str) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new("error.type", error_type.to_owned()));
        span.set_status(Status::error(error_type.to_owned()));
    }
}

/// The `invoke_agent {agent}` span of one invocation, opened through
/// [`Agent::invocation_span`](crate::Agent::invocation_span) as a child of the current
/// context. Run the turn with [`InvocationSpan::around`] and finish with [`InvocationSpan::end`];
/// a span dropped unfinished (an invocation stopped halfway) ends without an outcome.
pub struct InvocationSpan {
    span: GenAiSpan,
    record_content: bool,
}

impl InvocationSpan {
    pub(crate) fn start(telemetry: &Telemetry, prompt: &str) -> Self {
        let span = GenAiSpan::start(
            telemetry,
            telemetry.agent_name.clone(),
            SpanKind::Internal,
            || {
                let mut attributes = operation("invoke_agent").to_vec();
                attributes.push(KeyValue::new("gen_ai.agent.name", telemetry.agent.clone()));
                attributes.push(telemetry.model_attribute());
                if telemetry.record_content {
                    attributes.push(KeyValue::new("gen_ai.input.messages", prompt.to_owned()));
                }
                attributes
            },
        );
        Self {
            span,
            record_content: telemetry.record_content,
        }
    }

    /// The context the turn runs in, this span its current one: for work the turn hands to
    /// other tasks.
    pub fn context(&self) -> &Context {
        &self.span.cx
    }

    /// Runs `future` (the turn) with this span as the current one.
    pub fn around<F: Future>(&self, future: F) -> WithContext<F> {
        self.span.around(future)
    }

    /// How the invocation ended — its summed usage and, with `record_content`, its answer; or
    /// the kind of its failure — and the span's end.
    pub fn end(self, outcome: Result<&AgentReply, &str>) {
        let span = self.span.cx.span();
        if span.is_recording() {
            match outcome {
                Ok(reply) => {
                    self.span.answered(reply.usage, &reply.stop_reason);
                    if self.record_content {
                        span.set_attribute(KeyValue::new(
                            "gen_ai.output.messages",
                            reply.text.clone(),
                        ));
                    }
                }
                Err(error_type) => self.span.failed(error_type),
            }
        }
        span.end();
    }
}
