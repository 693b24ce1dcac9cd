//! An MCP `CallToolResult` as the tool result the model sees.
//!
//! Text stays text, images Bedrock can take (png, jpeg, gif, webp) become image blocks, and
//! `structuredContent` a JSON block — without the text block that merely repeats it, as servers
//! send for older clients. Everything else (audio, other images, resources) is named in a text
//! block, so the model knows something was there. `isError` makes the whole an error result.

use agent_core::{
    Image, ImageFormat, ToolError, ToolOutput, ToolResult, ToolResultContent, ToolResultStatus,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::{Value, json};

/// The result of a call, for the model.
pub(crate) fn for_model(result: CallToolResult) -> Result<ToolOutput, ToolError> {
    let structured = result.structured_content;
    let mut content: Vec<ToolResultContent> = result
        .content
        .into_iter()
        .filter(|block| !repeats(block, structured.as_ref()))
        .map(block_for_model)
        .collect();
    if let Some(value) = structured {
        // Converse's JSON block holds an object.
        content.push(ToolResultContent::Json(match value {
            Value::Object(_) => value,
            other => json!({ "result": other }),
        }));
    }
    if result.is_error == Some(true) {
        let message = ToolResult {
            tool_use_id: String::new(),
            content,
            status: ToolResultStatus::Error,
        }
        .text();
        return Err(ToolError::new(if message.is_empty() {
            "the tool reported an error without saying what".to_owned()
        } else {
            message
        }));
    }
    Ok(ToolOutput(content))
}

/// Whether `block` is the text form of the structured content.
fn repeats(block: &ContentBlock, structured: Option<&Value>) -> bool {
    match (block, structured) {
        (ContentBlock::Text(text), Some(structured)) => {
            serde_json::from_str::<Value>(&text.text).is_ok_and(|parsed| &parsed == structured)
        }
        _ => false,
    }
}

fn block_for_model(block: ContentBlock) -> ToolResultContent {
    match block {
        ContentBlock::Text(text) => ToolResultContent::Text(text.text),
        ContentBlock::Image(image) => match (
            ImageFormat::from_mime_type(&image.mime_type),
            STANDARD.decode(image.data.as_bytes()),
        ) {
            (Some(format), Ok(bytes)) => ToolResultContent::Image(Image::new(format, bytes)),
            (None, _) => ToolResultContent::Text(format!(
                "[an image of type {} was returned; it cannot be shown: only png, jpeg, gif and webp can]",
                image.mime_type
            )),
            (Some(_), Err(_)) => ToolResultContent::Text(format!(
                "[an image of type {} was returned, but its data was not valid base64]",
                image.mime_type
            )),
        },
        ContentBlock::Audio(audio) => ToolResultContent::Text(format!(
            "[audio of type {} was returned; it cannot be shown]",
            audio.mime_type
        )),
        ContentBlock::Resource(embedded) => match embedded.resource {
            ResourceContents::TextResourceContents { uri, text, .. } => {
                ToolResultContent::Text(format!("Resource {uri}:\n{text}"))
            }
            ResourceContents::BlobResourceContents { uri, mime_type, .. } => {
                ToolResultContent::Text(format!(
                    "[resource {uri} ({}) was returned as binary data; it cannot be shown]",
                    mime_type.as_deref().unwrap_or("of unknown type")
                ))
            }
            _ => ToolResultContent::Text(
                "[a resource of a kind this runtime does not know was returned]".to_owned(),
            ),
        },
        ContentBlock::ResourceLink(link) => {
            ToolResultContent::Text(format!("[a link to resource {} ({})]", link.uri, link.name))
        }
        other => ToolResultContent::Text(format!(
            "[content of a kind this runtime does not know was returned: {}]",
            serde_json::to_value(&other)
                .ok()
                .and_then(|value| value.get("type").cloned())
                .unwrap_or(Value::Null)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{AudioContent, ImageContent, TextContent};

    fn png() -> (String, Vec<u8>) {
        let bytes = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a];
        (STANDARD.encode(&bytes), bytes)
    }

    #[test]
    fn text_and_images_keep_their_kinds() {
        let (data, bytes) = png();
        let result = CallToolResult::success(vec![
            ContentBlock::Text(TextContent::new("a chart")),
            ContentBlock::Image(ImageContent::new(data, "image/png")),
        ]);
        assert_eq!(
            for_model(result).unwrap(),
            ToolOutput(vec![
                ToolResultContent::Text("a chart".into()),
                ToolResultContent::Image(Image::new(ImageFormat::Png, bytes)),
            ])
        );
    }

    #[test]
    fn what_bedrock_cannot_take_is_named_not_dropped() {
        let result = CallToolResult::success(vec![
            ContentBlock::Image(ImageContent::new("PHN2Zz4=", "image/svg+xml")),
            ContentBlock::Audio(AudioContent::new("AAAA", "audio/wav")),
        ]);
        let output = for_model(result).unwrap();
        let texts: Vec<String> = output
            .0
            .iter()
            .map(|block| match block {
                ToolResultContent::Text(text) => text.clone(),
                other => panic!("not text: {other:?}"),
            })
            .collect();
        assert!(texts[0].contains("image/svg+xml"), "{texts:?}");
        assert!(texts[1].contains("audio/wav"), "{texts:?}");
    }

    #[test]
    fn structured_content_is_json_and_its_text_copy_goes() {
        let value = json!({"temperature": 21.5, "unit": "C"});
        let mut result = CallToolResult::structured(value.clone());
        result
            .content
            .push(ContentBlock::Text(TextContent::new("and a remark")));
        assert_eq!(
            for_model(result).unwrap(),
            ToolOutput(vec![
                ToolResultContent::Text("and a remark".into()),
                ToolResultContent::Json(value),
            ])
        );
    }

    #[test]
    fn is_error_makes_an_error_result_with_the_servers_words() {
        let result = CallToolResult::error(vec![ContentBlock::Text(TextContent::new(
            "order o-9 does not exist",
        ))]);
        assert_eq!(
            for_model(result).unwrap_err(),
            ToolError::new("order o-9 does not exist")
        );
    }
}
