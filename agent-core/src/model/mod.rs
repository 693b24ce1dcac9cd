//! The model seam: one async Converse-style call that every provider implements, and a streaming
//! form of it.
//!
//! The agent loop only ever talks to `dyn Model`, so Bedrock, a replay of recordings and the
//! scripted models of tests are interchangeable without the loop knowing which it has. A model
//! that cannot stream still answers the streaming call, with its whole answer at once.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

pub(crate) mod inference;
#[cfg(any(test, feature = "scripted"))]
pub mod scripted;

pub use self::inference::InferenceConfig;
use self::inference::MODEL_DEFAULTS;
use crate::message::Message;
use crate::tool::ToolSpec;

/// A chat model that answers a conversation, possibly by asking for tools.
///
/// Its `Display` form describes it for logs, such as `bedrock:us.anthropic.claude-sonnet-4-…`.
#[async_trait]
pub trait Model: Send + Sync + std::fmt::Display {
    /// The model id requests are for (`gen_ai.request.model` in traces), when there is one.
    fn model_id(&self) -> Option<&str> {
        None
    }

    /// Sends one Converse request and returns the assistant's message.
    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError>;

    /// Sends one request and yields the answer as it is written: text deltas, then the whole
    /// response, assembled exactly as [`Model::converse`] returns it, as the last event.
    ///
    /// By default the call is [`Model::converse`], its text sent as one delta.
    fn converse_stream<'a>(&'a self, request: ConverseRequest<'a>) -> ModelEvents<'a> {
        stream::once(self.converse(request))
            .flat_map(|outcome| {
                let events = match outcome {
                    Ok(response) => {
                        let text = response.message.text();
                        let delta = (!text.is_empty()).then_some(Ok(ModelEvent::TextDelta(text)));
                        delta
                            .into_iter()
                            .chain([Ok(ModelEvent::Completed(response))])
                            .collect()
                    }
                    Err(error) => vec![Err(error)],
                };
                stream::iter(events)
            })
            .boxed()
    }
}

/// What a streaming model call yields, in order; ends with one [`ModelEvent::Completed`] or an
/// error.
pub type ModelEvents<'a> = BoxStream<'a, Result<ModelEvent, ModelError>>;

/// A piece of a model turn as it arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelEvent {
    /// Text, as the model writes it.
    TextDelta(String),
    /// The whole turn: the last event of a call.
    Completed(ModelResponse),
}

/// What the agent sends the model on every call.
#[derive(Debug, Clone, Copy)]
pub struct ConverseRequest<'a> {
    /// The system prompt; empty for none (then none is sent: Bedrock refuses an empty block).
    pub system: &'a str,
    /// The conversation so far, oldest first.
    pub messages: &'a [Message],
    /// The tools offered.
    pub tools: &'a [ToolSpec],
    /// How the model samples.
    pub inference: &'a InferenceConfig,
    /// The one tool the model must call (Bedrock's `toolChoice.tool`), when its answer must be
    /// that tool's input; `None` lets the model choose.
    pub forced_tool: Option<&'a str>,
}

impl<'a> ConverseRequest<'a> {
    /// A request with the model's own sampling defaults.
    pub fn new(system: &'a str, messages: &'a [Message], tools: &'a [ToolSpec]) -> Self {
        Self {
            system,
            messages,
            tools,
            inference: &MODEL_DEFAULTS,
            forced_tool: None,
        }
    }
}

/// The model's answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelResponse {
    /// The model's message.
    pub message: Message,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Tokens it took.
    pub usage: Usage,
}

/// Why the model stopped generating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The model finished its answer.
    EndTurn,
    /// The model asks for tool calls.
    ToolUse,
    /// The answer hit the token limit.
    MaxTokens,
    /// The answer hit a stop sequence.
    StopSequence,
    /// A guardrail stepped in.
    GuardrailIntervened,
    /// Content filtering stopped the answer.
    ContentFiltered,
    /// A reason this version does not know; treated like the end of a turn.
    Other(String),
}

impl StopReason {
    /// The Bedrock wire name, such as `end_turn`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(other) => other,
            known => known.known_name().unwrap_or_default(),
        }
    }

    /// The wire name of a reason this crate knows, as a static string (for telemetry, which
    /// then copies nothing); `None` for [`StopReason::Other`].
    pub(crate) fn known_name(&self) -> Option<&'static str> {
        Some(match self {
            Self::EndTurn => "end_turn",
            Self::ToolUse => "tool_use",
            Self::MaxTokens => "max_tokens",
            Self::StopSequence => "stop_sequence",
            Self::GuardrailIntervened => "guardrail_intervened",
            Self::ContentFiltered => "content_filtered",
            Self::Other(_) => return None,
        })
    }
}

impl From<&str> for StopReason {
    fn from(value: &str) -> Self {
        match value {
            "end_turn" => Self::EndTurn,
            "tool_use" => Self::ToolUse,
            "max_tokens" => Self::MaxTokens,
            "stop_sequence" => Self::StopSequence,
            "guardrail_intervened" => Self::GuardrailIntervened,
            "content_filtered" => Self::ContentFiltered,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for StopReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StopReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(Self::from(name.as_str()))
    }
}

/// Token counts of one call, or summed over an invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Tokens read.
    pub input_tokens: u64,
    /// Tokens written.
    pub output_tokens: u64,
    /// Both.
    pub total_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// Why one model call failed.
#[derive(Debug, Clone, Error, PartialEq)]
#[non_exhaustive]
pub enum ModelError {
    /// The service is rate limiting; worth retrying after a pause.
    #[error("the model service is throttling requests: {message}")]
    Throttled {
        /// What the service said.
        message: String,
    },
    /// A 5xx from the service; worth retrying after a pause.
    #[error("the model service failed ({status}): {message}")]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// What the service said.
        message: String,
    },
    /// No answer within the model timeout.
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
    /// The service refused the request (validation, access, unknown model, …).
    #[error("the model service rejected the request: {message}")]
    Rejected {
        /// What the service said.
        message: String,
    },
    /// The request does not fit the model's context window.
    #[error("the conversation is too long for the model: {message}")]
    ContextOverflow {
        /// What the service said.
        message: String,
    },
    /// The endpoint could not be reached or the credentials could not be loaded.
    #[error("could not reach the model service: {message}")]
    Connection {
        /// What failed, with its causes.
        message: String,
    },
    /// An answer arrived but does not make sense as a Converse response.
    #[error("the model's response could not be used: {message}")]
    Malformed {
        /// What does not make sense.
        message: String,
    },
}

impl ModelError {
    /// The kind of failure as one word, for traces' `error.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Throttled { .. } => "throttled",
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout(_) => "timeout",
            Self::Rejected { .. } => "rejected",
            Self::ContextOverflow { .. } => "context_overflow",
            Self::Connection { .. } => "connection",
            Self::Malformed { .. } => "malformed",
        }
    }

    /// Throttling and 5xx are transient; everything else fails the same way when retried.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Unavailable { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Whole;

    #[async_trait]
    impl Model for Whole {
        async fn converse(
            &self,
            request: ConverseRequest<'_>,
        ) -> Result<ModelResponse, ModelError> {
            match request.system {
                "fail" => Err(ModelError::Rejected {
                    message: "no".into(),
                }),
                _ => Ok(crate::scripted::text_response("all at once")),
            }
        }
    }

    impl std::fmt::Display for Whole {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let text: String = { "whole".into() };
            formatter.write_str(&text)
        }
    }

    #[tokio::test]
    async fn a_model_that_cannot_stream_streams_its_whole_answer_at_once() {
        let request = |system| ConverseRequest::new(system, &[], &[]);
        let events: Vec<_> = Whole.converse_stream(request("")).collect().await;
        assert_eq!(
            events,
            [
                Ok(ModelEvent::TextDelta("all at once".into())),
                Ok(ModelEvent::Completed(crate::scripted::text_response(
                    "all at once"
                )))
            ]
        );
        let failed: Vec<_> = Whole.converse_stream(request("fail")).collect().await;
        assert!(matches!(failed[..], [Err(ModelError::Rejected { .. })]));
    }

    #[test]
    fn stop_reasons_round_trip_their_wire_names() {
        for name in [
            "end_turn",
            "tool_use",
            "max_tokens",
            "stop_sequence",
            "guardrail_intervened",
            "content_filtered",
            "model_context_window_exceeded",
        ] {
            let reason = StopReason::from(name);
            assert_eq!(reason.as_str(), name);
            assert_eq!(serde_json::to_value(&reason).unwrap(), name);
        }
        assert_eq!(StopReason::from("tool_use"), StopReason::ToolUse);
    }
}
