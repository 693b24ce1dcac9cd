//! A [`ConverseRequest`] as the AWS SDK's types, for both Converse and ConverseStream.
//!
//! Nothing Bedrock would refuse or that says nothing is sent: no system block for an empty
//! system prompt (Bedrock refuses a blank one), no `inferenceConfig` when the agent sets none,
//! no tool configuration without tools. An agent offers the same tools on every call, so their
//! schemas are converted to SDK documents once and reused while the tools stay the same.

use crate::sync::lock;
use std::sync::Mutex;

use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types as sdk;

use super::document::to_document;
use crate::message::{
    ContentBlock, ImageFormat, Message, Role, ToolResultContent, ToolResultStatus,
};
use crate::model::InferenceConfig;
use crate::model::{ConverseRequest, ModelError};
use crate::tool::ToolSpec;

/// The parts of a request both calls send.
pub(crate) struct RequestParts {
    pub messages: Vec<sdk::Message>,
    pub system: Option<Vec<sdk::SystemContentBlock>>,
    pub inference: Option<sdk::InferenceConfiguration>,
    pub tools: Option<sdk::ToolConfiguration>,
}

impl RequestParts {
    pub(super) fn of(
        request: &ConverseRequest<'_>,
        tools: &ToolConfigCache,
    ) -> Result<Self, ModelError> {
        let messages = request
            .messages
            .iter()
            .map(to_sdk_message)
            .collect::<Result<Vec<_>, _>>()?;
        let system = (!request.system.is_empty())
            .then(|| vec![sdk::SystemContentBlock::Text(request.system.to_owned())]);
        let inference =
            (!request.inference.is_empty()).then(|| to_sdk_inference(request.inference));
        Ok(Self {
            messages,
            system,
            inference,
            tools: tools
                .get(request.tools)?
                .map(|config| force(config, request.forced_tool))
                .transpose()?,
        })
    }
}

/// The SDK form of the last tool set converted, kept for the next call with the same tools.
#[derive(Debug, Default)]
pub(crate) struct ToolConfigCache {
    last: Mutex<Option<(Vec<ToolSpec>, sdk::ToolConfiguration)>>,
}

impl ToolConfigCache {
    /// The tool configuration for `tools`, or none when there are no tools. Comparing the specs
    /// costs far less than converting them; a model shared by agents with different tools is
    /// still right, only slower.
    fn get(&self, tools: &[ToolSpec]) -> Result<Option<sdk::ToolConfiguration>, ModelError> {
        if tools.is_empty() {
            return Ok(None);
        }
        let mut last = lock(&self.last);
        if let Some((specs, config)) = last.as_ref()
            && specs.as_slice() == tools
        {
            return Ok(Some(config.clone()));
        }
        let config = to_sdk_tool_config(tools)?;
        *last = Some((tools.to_vec(), config.clone()));
        Ok(Some(config))
    }
}

/// `config` with its tool choice set to `forced`, when a tool is forced.
fn force(
    config: sdk::ToolConfiguration,
    forced: Option<&str>,
) -> Result<sdk::ToolConfiguration, ModelError> {
    let Some(name) = forced else {
        return Ok(config);
    };
    let choice = sdk::SpecificToolChoice::builder()
        .name(name)
        .build()
        .map_err(invalid_request)?;
    sdk::ToolConfiguration::builder()
        .set_tools(Some(config.tools().to_vec()))
        .tool_choice(sdk::ToolChoice::Tool(choice))
        .build()
        .map_err(invalid_request)
}

fn invalid_request(error: impl std::fmt::Display) -> ModelError {
    ModelError::Rejected {
        message: format!("the request could not be built: {error}"),
    }
}

fn to_sdk_inference(config: &InferenceConfig) -> sdk::InferenceConfiguration {
    sdk::InferenceConfiguration::builder()
        .set_max_tokens(
            config
                .max_tokens
                .map(|tokens| tokens.min(i32::MAX as u32) as i32),
        )
        .set_temperature(config.temperature)
        .set_top_p(config.top_p)
        .set_stop_sequences(
            (!config.stop_sequences.is_empty()).then(|| config.stop_sequences.clone()),
        )
        .build()
}

fn to_sdk_message(message: &Message) -> Result<sdk::Message, ModelError> {
    let role = match message.role {
        Role::User => sdk::ConversationRole::User,
        Role::Assistant => sdk::ConversationRole::Assistant,
    };
    let content = message
        .content
        .iter()
        .map(to_sdk_block)
        .collect::<Result<Vec<_>, _>>()?;
    sdk::Message::builder()
        .role(role)
        .set_content(Some(content))
        .build()
        .map_err(invalid_request)
}

fn to_sdk_block(block: &ContentBlock) -> Result<sdk::ContentBlock, ModelError> {
    Ok(match block {
        ContentBlock::Text(text) => sdk::ContentBlock::Text(text.clone()),
        ContentBlock::ToolUse(tool_use) => sdk::ContentBlock::ToolUse(
            sdk::ToolUseBlock::builder()
                .tool_use_id(&tool_use.tool_use_id)
                .name(&tool_use.name)
                .input(to_document(&tool_use.input))
                .build()
                .map_err(invalid_request)?,
        ),
        ContentBlock::ToolResult(result) => {
            let content = result
                .content
                .iter()
                .map(to_sdk_tool_result_block)
                .collect::<Result<Vec<_>, _>>()?;
            let status = match result.status {
                ToolResultStatus::Success => sdk::ToolResultStatus::Success,
                ToolResultStatus::Error => sdk::ToolResultStatus::Error,
            };
            sdk::ContentBlock::ToolResult(
                sdk::ToolResultBlock::builder()
                    .tool_use_id(&result.tool_use_id)
                    .set_content(Some(content))
                    .status(status)
                    .build()
                    .map_err(invalid_request)?,
            )
        }
    })
}

fn to_sdk_tool_result_block(
    part: &ToolResultContent,
) -> Result<sdk::ToolResultContentBlock, ModelError> {
    Ok(match part {
        ToolResultContent::Text(text) => sdk::ToolResultContentBlock::Text(text.clone()),
        ToolResultContent::Json(value) => sdk::ToolResultContentBlock::Json(to_document(value)),
        ToolResultContent::Image(image) => sdk::ToolResultContentBlock::Image(
            sdk::ImageBlock::builder()
                .format(match image.format {
                    ImageFormat::Png => sdk::ImageFormat::Png,
                    ImageFormat::Jpeg => sdk::ImageFormat::Jpeg,
                    ImageFormat::Gif => sdk::ImageFormat::Gif,
                    ImageFormat::Webp => sdk::ImageFormat::Webp,
                })
                .source(sdk::ImageSource::Bytes(Blob::new(
                    image.source.bytes.clone(),
                )))
                .build()
                .map_err(invalid_request)?,
        ),
    })
}

fn to_sdk_tool_config(tools: &[ToolSpec]) -> Result<sdk::ToolConfiguration, ModelError> {
    let tools = tools
        .iter()
        .map(|spec| {
            sdk::ToolSpecification::builder()
                .name(&spec.name)
                .description(&spec.description)
                .input_schema(sdk::ToolInputSchema::Json(to_document(&spec.input_schema)))
                .build()
                .map(sdk::Tool::ToolSpec)
                .map_err(invalid_request)
        })
        .collect::<Result<Vec<_>, _>>()?;
    sdk::ToolConfiguration::builder()
        .set_tools(Some(tools))
        .tool_choice(sdk::ToolChoice::Auto(
            sdk::AutoToolChoice::builder().build(),
        ))
        .build()
        .map_err(invalid_request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: format!("the {name} tool"),
            input_schema: json!({"type": "object"}),
        }
    }

    fn names(config: &sdk::ToolConfiguration) -> Vec<&str> {
        config
            .tools()
            .iter()
            .map(|tool| match tool {
                sdk::Tool::ToolSpec(spec) => spec.name(),
                _ => "?",
            })
            .collect()
    }

    #[test]
    fn a_changed_tool_set_is_converted_again() {
        let cache = ToolConfigCache::default();
        assert_eq!(cache.get(&[]).unwrap(), None);
        let first = cache.get(&[spec("a")]).unwrap().unwrap();
        assert_eq!(names(&first), ["a"]);
        assert_eq!(cache.get(&[spec("a")]).unwrap().unwrap(), first);
        let other = cache.get(&[spec("a"), spec("b")]).unwrap().unwrap();
        assert_eq!(names(&other), ["a", "b"]);
    }

    #[test]
    fn nothing_empty_is_sent() {
        let messages = [Message::user("hi")];
        let cache = ToolConfigCache::default();
        let parts = RequestParts::of(&ConverseRequest::new("", &messages, &[]), &cache).unwrap();
        assert!(parts.system.is_none() && parts.inference.is_none() && parts.tools.is_none());

        let inference = InferenceConfig {
            temperature: Some(0.2),
            ..InferenceConfig::default()
        };
        let request = ConverseRequest {
            inference: &inference,
            forced_tool: None,
            ..ConverseRequest::new("be brief", &messages, &[])
        };
        let parts = RequestParts::of(&request, &cache).unwrap();
        assert_eq!(
            parts.system,
            Some(vec![sdk::SystemContentBlock::Text("be brief".into())])
        );
        let sent = parts.inference.unwrap();
        assert_eq!(sent.temperature(), Some(0.2));
        assert_eq!(sent.max_tokens(), None);
        assert!(sent.stop_sequences().is_empty());
    }
}
