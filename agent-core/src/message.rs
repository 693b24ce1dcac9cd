//! Conversation messages, shaped exactly like Bedrock Converse messages.
//!
//! The serde representation *is* the Bedrock wire format (`{"role": "user", "content": [{"text":
//! …}, {"toolUse": {…}}, {"toolResult": {…}}]}`), so recordings, replay matching and the Bedrock
//! client all speak one vocabulary and nothing is translated twice.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Stands in a history for a message that had no content, which Converse would refuse.
pub const EMPTY_MESSAGE_PLACEHOLDER: &str = "(no content)";

/// Stands in a tool result for a tool that returned no output, which Converse would refuse.
pub(crate) const EMPTY_TOOL_OUTPUT_PLACEHOLDER: &str = "(the tool returned no output)";

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person (or the tool results sent on their behalf).
    User,
    /// The model.
    Assistant,
}

/// One message of a conversation: a role and its content blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What it holds, in order.
    pub content: Vec<ContentBlock>,
}

/// A block of message content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ContentBlock {
    /// Text.
    Text(String),
    /// A tool call the model asks for.
    ToolUse(ToolUse),
    /// A tool's answer to a call.
    ToolResult(ToolResult),
}

/// The model asking for a tool to be run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUse {
    /// The model's id for this call, which its result names.
    pub tool_use_id: String,
    /// The tool's name.
    pub name: String,
    /// The tool's input, as the model wrote it.
    pub input: Value,
}

/// The outcome of one tool use, sent back to the model in a user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    /// The id of the call this answers.
    pub tool_use_id: String,
    /// What the tool answered.
    pub content: Vec<ToolResultContent>,
    /// Whether the tool succeeded.
    pub status: ToolResultStatus,
}

/// Whether a tool ran successfully; an error result still goes back to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolResultStatus {
    /// The tool answered.
    Success,
    /// The tool failed; the content says why.
    Error,
}

/// A block of tool output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolResultContent {
    /// Text.
    Text(String),
    /// A JSON value.
    Json(Value),
    /// An image, as Converse takes one in a tool result.
    Image(Image),
}

/// An image in Converse's shape: `{"format": "png", "source": {"bytes": "<base64>"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Its encoding.
    pub format: ImageFormat,
    /// Its bytes.
    pub source: ImageSource,
}

impl Image {
    /// An image of `format` made of `bytes`.
    pub fn new(format: ImageFormat, bytes: Vec<u8>) -> Self {
        Self {
            format,
            source: ImageSource { bytes },
        }
    }
}

/// The encodings Converse accepts for images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// GIF.
    Gif,
    /// WebP.
    Webp,
}

impl ImageFormat {
    /// The format of a MIME type (`image/png`, …); `None` for one Converse does not take.
    pub fn from_mime_type(mime_type: &str) -> Option<Self> {
        match mime_type.trim().to_ascii_lowercase().as_str() {
            "image/png" => Some(Self::Png),
            "image/jpeg" | "image/jpg" => Some(Self::Jpeg),
            "image/gif" => Some(Self::Gif),
            "image/webp" => Some(Self::Webp),
            _ => None,
        }
    }

    /// The MIME type, `image/png` and so on.
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
        }
    }
}

/// Where an image's bytes are: inline, base64 in JSON as on Converse's wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSource {
    /// The encoded image.
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

/// Bytes as standard base64 text, the way Converse's JSON carries them.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

impl Message {
    /// A user message holding one text block.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![ContentBlock::Text(text.into())],
        }
    }

    /// An assistant message holding one text block.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: vec![ContentBlock::Text(text.into())],
        }
    }

    /// The text blocks of the message joined by newlines.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self
            .content
            .iter()
            .filter_map(|block| match block {
                ContentBlock::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        texts.join("\n")
    }

    /// The tool uses the message asks for, in order.
    pub fn tool_uses(&self) -> impl Iterator<Item = &ToolUse> {
        self.content.iter().filter_map(|block| match block {
            ContentBlock::ToolUse(tool_use) => Some(tool_use),
            _ => None,
        })
    }

    /// The tool results the message carries, in order.
    pub fn tool_results(&self) -> impl Iterator<Item = &ToolResult> {
        self.content.iter().filter_map(|block| match block {
            ContentBlock::ToolResult(result) => Some(result),
            _ => None,
        })
    }

    /// The message as Bedrock accepts it back in a history: blank text blocks removed, and a
    /// placeholder when nothing is left, since Converse refuses blank text and empty content.
    pub fn for_history(mut self) -> Self {
        self.content
            .retain(|block| !matches!(block, ContentBlock::Text(text) if text.trim().is_empty()));
        if self.content.is_empty() {
            self.content
                .push(ContentBlock::Text(EMPTY_MESSAGE_PLACEHOLDER.to_owned()));
        }
        self
    }

    /// True for a user message that opens a turn: user text, not the answer to a tool use.
    ///
    /// A history may only start at such a message; Bedrock rejects one that starts with an
    /// assistant message or with a tool result whose tool use is gone.
    pub fn starts_turn(&self) -> bool {
        self.role == Role::User && self.tool_results().next().is_none()
    }
}

impl ToolResult {
    /// A successful result with one text block.
    pub fn success(tool_use_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            tool_use_id: tool_use_id.into(),
            content: vec![ToolResultContent::Text(text.into())],
            status: ToolResultStatus::Success,
        }
    }

    /// An error result with one text block telling the model what went wrong.
    pub fn error(tool_use_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            tool_use_id: tool_use_id.into(),
            content: vec![ToolResultContent::Text(text.into())],
            status: ToolResultStatus::Error,
        }
    }

    /// The result's content as one string: texts as they are, JSON blocks serialised, images
    /// named by type and size.
    pub fn text(&self) -> String {
        let parts: Vec<String> = self
            .content
            .iter()
            .map(|block| match block {
                ToolResultContent::Text(text) => text.clone(),
                ToolResultContent::Json(value) => value.to_string(),
                ToolResultContent::Image(image) => format!(
                    "[{} image, {} bytes]",
                    image.format.mime_type(),
                    image.source.bytes.len()
                ),
            })
            .collect();
        parts.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_image_result_serialises_as_converse_carries_it() {
        let block =
            ToolResultContent::Image(Image::new(ImageFormat::Png, vec![0x89, b'P', b'N', b'G']));
        let wire = serde_json::to_value(&block).unwrap();
        assert_eq!(
            wire,
            json!({"image": {"format": "png", "source": {"bytes": "iVBORw=="}}})
        );
        assert_eq!(
            serde_json::from_value::<ToolResultContent>(wire).unwrap(),
            block
        );
        assert_eq!(
            ImageFormat::from_mime_type("IMAGE/JPG"),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(ImageFormat::from_mime_type("image/svg+xml"), None);
    }

    #[test]
    fn serialises_in_bedrock_wire_format() {
        let message = Message {
            role: Role::Assistant,
            content: vec![
                ContentBlock::Text("checking".into()),
                ContentBlock::ToolUse(ToolUse {
                    tool_use_id: "t1".into(),
                    name: "weather".into(),
                    input: json!({}),
                }),
            ],
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({"role": "assistant", "content": [
                {"text": "checking"},
                {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {}}}
            ]})
        );
        let result = Message {
            role: Role::User,
            content: vec![ContentBlock::ToolResult(ToolResult::success("t1", "sunny"))],
        };
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({"role": "user", "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"text": "sunny"}], "status": "success"}}
            ]})
        );
    }

    #[test]
    fn histories_get_no_blank_text_and_no_empty_content() {
        let empty = Message {
            role: Role::Assistant,
            content: vec![],
        };
        assert_eq!(
            empty.for_history(),
            Message::assistant(EMPTY_MESSAGE_PLACEHOLDER)
        );
        let blank_and_tool = Message {
            role: Role::Assistant,
            content: vec![
                ContentBlock::Text(" \n".into()),
                ContentBlock::ToolUse(ToolUse {
                    tool_use_id: "t".into(),
                    name: "weather".into(),
                    input: json!({}),
                }),
            ],
        };
        let kept = blank_and_tool.for_history();
        assert_eq!(kept.content.len(), 1);
        assert_eq!(kept.tool_uses().count(), 1);
        assert_eq!(
            Message::assistant("hi").for_history(),
            Message::assistant("hi")
        );
    }

    #[test]
    fn text_joins_the_text_blocks_only() {
        let message = Message {
            role: Role::Assistant,
            content: vec![
                ContentBlock::Text("a".into()),
                ContentBlock::ToolUse(ToolUse {
                    tool_use_id: "t".into(),
                    name: "weather".into(),
                    input: json!({}),
                }),
                ContentBlock::Text("b".into()),
            ],
        };
        assert_eq!(message.text(), "a\nb");
    }

    #[test]
    fn only_user_text_starts_a_turn() {
        assert!(Message::user("hi").starts_turn());
        assert!(!Message::assistant("hi").starts_turn());
        let result = Message {
            role: Role::User,
            content: vec![ContentBlock::ToolResult(ToolResult::error("t", "boom"))],
        };
        assert!(!result.starts_turn());
    }
}
