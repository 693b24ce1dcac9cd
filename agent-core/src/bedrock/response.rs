//! A Converse answer in the SDK's types turned into this crate's: the assistant's message, its
//! stop reason and its token usage. Content blocks the agent does not use are logged and left out.

use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types as sdk;

use super::document::from_document;
use crate::message::{
    ContentBlock, Message, Role, ToolResult, ToolResultContent, ToolResultStatus, ToolUse,
};
use crate::model::{ModelError, ModelResponse, StopReason, Usage};

pub(super) fn from_sdk_output(output: ConverseOutput) -> Result<ModelResponse, ModelError> {
    let Some(sdk::ConverseOutput::Message(message)) = output.output else {
        return Err(ModelError::Malformed {
            message: "the response has no output message".into(),
        });
    };
    let role = match message.role {
        sdk::ConversationRole::Assistant => Role::Assistant,
        sdk::ConversationRole::User => Role::User,
        other => {
            return Err(ModelError::Malformed {
                message: format!("unknown message role `{}`", other.as_str()),
            });
        }
    };
    let content = message
        .content
        .into_iter()
        .filter_map(|block| match block {
            sdk::ContentBlock::Text(text) => Some(ContentBlock::Text(text)),
            sdk::ContentBlock::ToolUse(tool_use) => Some(ContentBlock::ToolUse(ToolUse {
                tool_use_id: tool_use.tool_use_id,
                name: tool_use.name,
                input: from_document(&tool_use.input),
            })),
            sdk::ContentBlock::ToolResult(result) => {
                Some(ContentBlock::ToolResult(from_sdk_tool_result(result)))
            }
            other => {
                tracing::warn!(block = ?other, "ignoring a content block this agent does not use");
                None
            }
        })
        .collect();
    let usage = output.usage.map(|usage| Usage {
        input_tokens: non_negative(usage.input_tokens),
        output_tokens: non_negative(usage.output_tokens),
        total_tokens: non_negative(usage.total_tokens),
    });
    Ok(ModelResponse {
        message: Message { role, content },
        stop_reason: StopReason::from(output.stop_reason.as_str()),
        usage: usage.unwrap_or_default(),
    })
}

fn from_sdk_tool_result(result: sdk::ToolResultBlock) -> ToolResult {
    ToolResult {
        tool_use_id: result.tool_use_id,
        content: result
            .content
            .into_iter()
            .filter_map(|part| match part {
                sdk::ToolResultContentBlock::Text(text) => Some(ToolResultContent::Text(text)),
                sdk::ToolResultContentBlock::Json(document) => {
                    Some(ToolResultContent::Json(from_document(&document)))
                }
                _ => None,
            })
            .collect(),
        status: match result.status {
            Some(sdk::ToolResultStatus::Error) => ToolResultStatus::Error,
            _ => ToolResultStatus::Success,
        },
    }
}

pub(super) fn non_negative(count: i32) -> u64 {
    u64::try_from(count).unwrap_or(0)
}
