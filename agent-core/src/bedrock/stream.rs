//! ConverseStream, assembled: Bedrock's stream events become text deltas to pass on while the
//! model writes, and at the end the same [`ModelResponse`] the Converse call returns — text
//! blocks joined, tool-use input (JSON arriving in pieces) parsed once complete, stop reason from
//! `messageStop`, usage from `metadata`.

use std::collections::BTreeMap;

use aws_sdk_bedrockruntime::types as sdk;
use serde_json::Value;

use super::response::non_negative;
use crate::message::{ContentBlock, Message, Role, ToolUse};
use crate::model::{ModelError, ModelResponse, StopReason, Usage};

/// The state of one streamed model turn.
#[derive(Debug)]
pub(crate) struct StreamAssembler {
    role: Role,
    /// Content blocks by their index in the message.
    blocks: BTreeMap<i32, PartialBlock>,
    stop_reason: Option<StopReason>,
    usage: Usage,
}

#[derive(Debug)]
enum PartialBlock {
    Text(String),
    ToolUse {
        tool_use_id: String,
        name: String,
        input: String,
    },
}

impl StreamAssembler {
    pub(super) fn new() -> Self {
        Self {
            role: Role::Assistant,
            blocks: BTreeMap::new(),
            stop_reason: None,
            usage: Usage::default(),
        }
    }

    /// Takes one event; returns the text it adds, to pass on at once.
    pub(super) fn push(
        &mut self,
        event: sdk::ConverseStreamOutput,
    ) -> Result<Option<String>, ModelError> {
        match event {
            sdk::ConverseStreamOutput::MessageStart(start) => {
                self.role = match start.role {
                    sdk::ConversationRole::User => Role::User,
                    _ => Role::Assistant,
                };
            }
            sdk::ConverseStreamOutput::ContentBlockStart(start) => {
                if let Some(sdk::ContentBlockStart::ToolUse(tool_use)) = start.start {
                    self.blocks.insert(
                        start.content_block_index,
                        PartialBlock::ToolUse {
                            tool_use_id: tool_use.tool_use_id,
                            name: tool_use.name,
                            input: String::new(),
                        },
                    );
                }
            }
            sdk::ConverseStreamOutput::ContentBlockDelta(delta) => {
                return self.delta(delta.content_block_index, delta.delta);
            }
            sdk::ConverseStreamOutput::MessageStop(stop) => {
                self.stop_reason = Some(StopReason::from(stop.stop_reason.as_str()));
            }
            sdk::ConverseStreamOutput::Metadata(metadata) => {
                if let Some(usage) = metadata.usage {
                    self.usage = Usage {
                        input_tokens: non_negative(usage.input_tokens),
                        output_tokens: non_negative(usage.output_tokens),
                        total_tokens: non_negative(usage.total_tokens),
                    };
                }
            }
            // contentBlockStop closes nothing that the next block or messageStop does not.
            _ => {}
        }
        Ok(None)
    }

    fn delta(
        &mut self,
        index: i32,
        delta: Option<sdk::ContentBlockDelta>,
    ) -> Result<Option<String>, ModelError> {
        let block = self.blocks.get_mut(&index);
        match (delta, block) {
            (Some(sdk::ContentBlockDelta::Text(text)), None) => {
                self.blocks.insert(index, PartialBlock::Text(text.clone()));
                Ok(Some(text))
            }
            (Some(sdk::ContentBlockDelta::Text(text)), Some(PartialBlock::Text(so_far))) => {
                so_far.push_str(&text);
                Ok(Some(text))
            }
            (
                Some(sdk::ContentBlockDelta::ToolUse(piece)),
                Some(PartialBlock::ToolUse { input, .. }),
            ) => {
                input.push_str(&piece.input);
                Ok(None)
            }
            (Some(sdk::ContentBlockDelta::Text(_) | sdk::ContentBlockDelta::ToolUse(_)), _) => {
                Err(malformed(format!(
                    "content block {index} mixes text and tool input, or its tool use never started"
                )))
            }
            (other, _) => {
                tracing::debug!(delta = ?other, "ignoring a stream delta this agent does not use");
                Ok(None)
            }
        }
    }

    /// The whole response, once the stream has ended.
    pub(super) fn finish(self) -> Result<ModelResponse, ModelError> {
        let Some(stop_reason) = self.stop_reason else {
            return Err(malformed("the stream ended before messageStop".into()));
        };
        let content = self
            .blocks
            .into_values()
            .map(|block| match block {
                PartialBlock::Text(text) => Ok(ContentBlock::Text(text)),
                PartialBlock::ToolUse {
                    tool_use_id,
                    name,
                    input,
                } => {
                    let input = if input.trim().is_empty() {
                        Value::Object(Default::default())
                    } else {
                        serde_json::from_str(&input).map_err(|error| {
                            malformed(format!(
                                "the input of tool use {tool_use_id} is not JSON: {error}"
                            ))
                        })?
                    };
                    Ok(ContentBlock::ToolUse(ToolUse {
                        tool_use_id,
                        name,
                        input,
                    }))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ModelResponse {
            message: Message {
                role: self.role,
                content,
            },
            stop_reason,
            usage: self.usage,
        })
    }
}

fn malformed(message: String) -> ModelError {
    ModelError::Malformed { message }
}
