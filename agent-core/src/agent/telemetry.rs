//! What an agent reports for tracing, in the OpenTelemetry GenAI semantic conventions: an
//! `invoke_agent {agent}` span per invocation (opened by whoever runs the turn), a
//! `chat {model}` span per model call (its retries included) and an `execute_tool {tool}` span
//! per tool call, plus the conventions' client metrics as `tracing` events.
//!
//! Only `tracing` is used here: a subscriber with `tracing-opentelemetry` turns the spans into
//! OpenTelemetry spans (the `otel.*` fields name them and set their status) and the events whose
//! fields start with `histogram.` into metrics, on target [`METRICS_TARGET`]. The spans are at
//! `DEBUG`, so a process that logs at `INFO` and exports nothing does not make them at all. Message content is recorded only when the agent is configured to
//! (`AgentConfig::record_content`). Numbers are recorded as `i64`, so an OTLP
//! receiver gets integers, not text.

use std::time::Duration;

use tracing::Span;

use crate::agent::reply::AgentReply;
use crate::message::{ToolResult, ToolResultStatus, ToolUse};
use crate::model::{ModelResponse, StopReason, Usage};

/// The provider every model of this crate speaks for: Bedrock Converse.
pub const PROVIDER: &str = "aws.bedrock";
/// The target of metric events, so log output can leave them out.
pub const METRICS_TARGET: &str = "agentcore::metrics";

/// The span of one model call, retries included.
pub(crate) fn chat_span(model: Option<&str>) -> Span {
    let model = model.unwrap_or("unknown");
    tracing::debug_span!(
        "chat",
        otel.name = %format!("chat {model}"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        "gen_ai.operation.name" = "chat",
        "gen_ai.provider.name" = PROVIDER,
        "gen_ai.system" = PROVIDER,
        "gen_ai.request.model" = model,
        "gen_ai.usage.input_tokens" = tracing::field::Empty,
        "gen_ai.usage.output_tokens" = tracing::field::Empty,
        "gen_ai.response.finish_reasons" = tracing::field::Empty,
        "gen_ai.request.attempts" = tracing::field::Empty,
        "gen_ai.server.time_to_first_token" = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
    )
}

/// How a model call ended, on its span and as the conventions' metrics.
pub(crate) fn record_chat(
    span: &Span,
    model: Option<&str>,
    outcome: Result<&ModelResponse, &'static str>,
    attempts: u32,
    elapsed: Duration,
    first_token: Option<Duration>,
) {
    let model = model.unwrap_or("unknown");
    span.record("gen_ai.request.attempts", i64::from(attempts));
    if let Some(first_token) = first_token {
        span.record(
            "gen_ai.server.time_to_first_token",
            first_token.as_secs_f64(),
        );
    }
    let error_type = outcome.err();
    match outcome {
        Ok(response) => {
            record_answer(span, response.usage, &response.stop_reason);
            for (token_type, tokens) in [
                ("input", response.usage.input_tokens),
                ("output", response.usage.output_tokens),
            ] {
                tracing::event!(
                    target: METRICS_TARGET,
                    tracing::Level::INFO,
                    histogram.gen_ai.client.token.usage = tokens,
                    "gen_ai.operation.name" = "chat",
                    "gen_ai.request.model" = model,
                    "gen_ai.token.type" = token_type,
                );
            }
        }
        Err(error_type) => record_failure(span, error_type),
    }
    tracing::event!(
        target: METRICS_TARGET,
        tracing::Level::INFO,
        histogram.gen_ai.client.operation.duration = elapsed.as_secs_f64(),
        "gen_ai.operation.name" = "chat",
        "gen_ai.request.model" = model,
        "error.type" = error_type,
    );
}

/// The span of one agent invocation, named after the agent; with a `prompt` (recorded only when
/// the agent records content), its input. Opened through [`crate::Agent::invocation_span`].
pub(crate) fn agent_span(agent: &str, model: Option<&str>, prompt: Option<&str>) -> Span {
    let span = tracing::debug_span!(
        "invoke_agent",
        otel.name = %format!("invoke_agent {agent}"),
        otel.status_code = tracing::field::Empty,
        "gen_ai.operation.name" = "invoke_agent",
        "gen_ai.agent.name" = agent,
        "gen_ai.provider.name" = PROVIDER,
        "gen_ai.system" = PROVIDER,
        "gen_ai.request.model" = model.unwrap_or("unknown"),
        "gen_ai.usage.input_tokens" = tracing::field::Empty,
        "gen_ai.usage.output_tokens" = tracing::field::Empty,
        "gen_ai.response.finish_reasons" = tracing::field::Empty,
        "gen_ai.input.messages" = tracing::field::Empty,
        "gen_ai.output.messages" = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
    );
    if let Some(prompt) = prompt {
        span.record("gen_ai.input.messages", prompt);
    }
    span
}

/// How an agent invocation ended: its summed usage and, with `record_content`, its answer; or
/// the kind of its failure.
pub fn record_agent(span: &Span, outcome: Result<&AgentReply, &str>, record_content: bool) {
    match outcome {
        Ok(reply) => {
            record_answer(span, reply.usage, &reply.stop_reason);
            if record_content {
                span.record("gen_ai.output.messages", reply.text.as_str());
            }
        }
        Err(error_type) => record_failure(span, error_type),
    }
}

fn record_answer(span: &Span, usage: Usage, stop_reason: &StopReason) {
    span.record("gen_ai.usage.input_tokens", integer(usage.input_tokens));
    span.record("gen_ai.usage.output_tokens", integer(usage.output_tokens));
    span.record("gen_ai.response.finish_reasons", stop_reason.as_str());
}

/// A count as a signed integer, the type OTLP carries the conventions' integers in: the tracing
/// bridge passes `i64` on as an integer attribute, but `u64` only as its text.
fn integer(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn record_failure(span: &Span, error_type: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("error.type", error_type);
}

/// The span of one tool call; with `record_content`, its arguments.
pub(crate) fn tool_span(tool_use: &ToolUse, record_content: bool) -> Span {
    let span = tracing::debug_span!(
        "execute_tool",
        otel.name = %format!("execute_tool {}", tool_use.name),
        otel.status_code = tracing::field::Empty,
        "gen_ai.operation.name" = "execute_tool",
        "gen_ai.tool.name" = %tool_use.name,
        "gen_ai.tool.call.id" = %tool_use.tool_use_id,
        "gen_ai.tool.type" = "function",
        "gen_ai.tool.status" = tracing::field::Empty,
        "gen_ai.tool.call.arguments" = tracing::field::Empty,
        "gen_ai.tool.call.result" = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
    );
    if record_content {
        span.record("gen_ai.tool.call.arguments", tool_use.input.to_string());
    }
    span
}

/// How a tool call ended; with `record_content`, its result.
pub(crate) fn record_tool(span: &Span, result: &ToolResult, record_content: bool) {
    match result.status {
        ToolResultStatus::Success => span.record("gen_ai.tool.status", "success"),
        ToolResultStatus::Error => {
            record_failure(span, "tool_error");
            span.record("gen_ai.tool.status", "error")
        }
    };
    if record_content {
        span.record("gen_ai.tool.call.result", result.text());
    }
}
