//! Bedrock Converse request and response bodies as JSON, for replay and recording.
//!
//! The live path goes through the AWS SDK's own types; these mirror the same JSON so that a
//! recorded response is served byte for byte and a captured request can be read back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::Message;
use crate::model::{ModelResponse, StopReason, Usage};

/// The body of `POST /model/{modelId}/converse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseBody {
    /// The conversation.
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// The system prompt, when there is one.
    pub system: Vec<SystemBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The tools offered, as Bedrock's `toolConfig`.
    pub tool_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Bedrock's `inferenceConfig`, when set.
    pub inference_config: Option<Value>,
}

/// A block of the system prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SystemBlock {
    /// Text.
    Text(String),
}

/// The body of a successful Converse response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponseBody {
    /// The model's output.
    pub output: ConverseOutput,
    /// Why it stopped.
    pub stop_reason: StopReason,
    #[serde(default)]
    /// Tokens it took.
    pub usage: Usage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Bedrock's latency figure, when recorded.
    pub metrics: Option<Metrics>,
}

/// The `output` member: the assistant's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConverseOutput {
    /// The model's message.
    pub message: Message,
}

/// The `metrics` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Milliseconds Bedrock reported.
    pub latency_ms: u64,
}

impl ConverseResponseBody {
    /// The wire form of a response, with the latency it took.
    pub fn from_response(response: &ModelResponse, latency_ms: u64) -> Self {
        Self {
            output: ConverseOutput {
                message: response.message.clone(),
            },
            stop_reason: response.stop_reason.clone(),
            usage: response.usage,
            metrics: Some(Metrics { latency_ms }),
        }
    }
}

impl From<ConverseResponseBody> for ModelResponse {
    fn from(body: ConverseResponseBody) -> Self {
        Self {
            message: body.output.message,
            stop_reason: body.stop_reason,
            usage: body.usage,
        }
    }
}
