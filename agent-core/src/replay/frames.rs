//! ConverseStream responses as recordings hold them: the stream's messages as JSON, in the order
//! Bedrock sends them — events (`messageStart`, `contentBlockDelta`, …) and exceptions
//! (`throttlingException`, …) with their payloads. `replay::event_stream` frames them as the
//! binary body the SDK reads.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::message::ContentBlock;
use crate::model::ModelResponse;

/// One message of a ConverseStream response: an event (`messageStart`, `contentBlockDelta`, …)
/// or an exception (`throttlingException`, `modelStreamErrorException`, …), with its JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StreamFrame {
    /// An event of the stream.
    Event {
        /// Its type, such as `contentBlockDelta`.
        event: String,
        /// Its JSON payload.
        payload: Value,
    },
    /// An exception inside the stream.
    Exception {
        /// Its type, such as `throttlingException`.
        exception: String,
        /// Its JSON payload.
        payload: Value,
    },
}

impl StreamFrame {
    /// An event of type `name`.
    pub fn event(name: &str, payload: Value) -> Self {
        Self::Event {
            event: name.to_owned(),
            payload,
        }
    }

    /// An exception of type `name` (such as `throttlingException`) saying `message`.
    pub fn exception(name: &str, message: &str) -> Self {
        Self::Exception {
            exception: name.to_owned(),
            payload: json!({ "message": message }),
        }
    }
}

/// The frames ConverseStream sends for `response`: its text in pieces of at most `chunk`
/// characters, each tool use's input JSON in pieces of at most `chunk` characters too.
pub fn frames_for(response: &ModelResponse, chunk: usize) -> Vec<StreamFrame> {
    let chunk = chunk.max(1);
    let pieces = |text: &str| -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        chars
            .chunks(chunk)
            .map(|piece| piece.iter().collect())
            .collect()
    };
    frames_with(response, pieces, pieces)
}

/// The frames of `response` with its text in the pieces a stream delivered (`text_deltas`, in
/// order, as a live call yields them) and each tool use's input in one piece. A text block the
/// deltas do not spell out exactly is sent in one piece.
pub fn frames_as_received(response: &ModelResponse, text_deltas: &[String]) -> Vec<StreamFrame> {
    let mut deltas = text_deltas.iter().peekable();
    let text_pieces = |text: &str| -> Vec<String> {
        let mut pieces = Vec::new();
        let mut spelled = String::new();
        while spelled.len() < text.len() {
            match deltas.next_if(|delta| text[spelled.len()..].starts_with(delta.as_str())) {
                Some(delta) if !delta.is_empty() => {
                    spelled.push_str(delta);
                    pieces.push(delta.clone());
                }
                _ => return vec![text.to_owned()],
            }
        }
        pieces
    };
    frames_with(response, text_pieces, |input| vec![input.to_owned()])
}

/// The frames of `response`, its text blocks and tool inputs cut by the given functions.
fn frames_with(
    response: &ModelResponse,
    mut text_pieces: impl FnMut(&str) -> Vec<String>,
    mut input_pieces: impl FnMut(&str) -> Vec<String>,
) -> Vec<StreamFrame> {
    let mut frames = vec![StreamFrame::event(
        "messageStart",
        json!({"role": response.message.role}),
    )];
    for (index, block) in response.message.content.iter().enumerate() {
        match block {
            ContentBlock::Text(text) => {
                for piece in text_pieces(text) {
                    frames.push(StreamFrame::event(
                        "contentBlockDelta",
                        json!({"contentBlockIndex": index, "delta": {"text": piece}}),
                    ));
                }
            }
            ContentBlock::ToolUse(tool_use) => {
                frames.push(StreamFrame::event(
                    "contentBlockStart",
                    json!({"contentBlockIndex": index, "start": {"toolUse": {
                        "toolUseId": tool_use.tool_use_id, "name": tool_use.name
                    }}}),
                ));
                for piece in input_pieces(&tool_use.input.to_string()) {
                    frames.push(StreamFrame::event(
                        "contentBlockDelta",
                        json!({"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}),
                    ));
                }
            }
            ContentBlock::ToolResult(_) => continue,
        }
        frames.push(StreamFrame::event(
            "contentBlockStop",
            json!({"contentBlockIndex": index}),
        ));
    }
    frames.push(StreamFrame::event(
        "messageStop",
        json!({"stopReason": response.stop_reason}),
    ));
    frames.push(StreamFrame::event(
        "metadata",
        json!({"usage": response.usage, "metrics": {"latencyMs": 1}}),
    ));
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scripted::tool_use_response;

    #[test]
    fn a_response_is_split_into_deltas_in_bedrock_order() {
        let response = tool_use_response(&[("t1", "calculator", json!({"expression": "2+5"}))]);
        let names: Vec<String> = frames_for(&response, 4)
            .iter()
            .map(|frame| match frame {
                StreamFrame::Event { event, .. } => event.clone(),
                StreamFrame::Exception { exception, .. } => exception.clone(),
            })
            .collect();
        assert_eq!(names.first().map(String::as_str), Some("messageStart"));
        assert_eq!(names[1], "contentBlockStart");
        assert!(
            names
                .iter()
                .filter(|name| *name == "contentBlockDelta")
                .count()
                >= 5
        );
        assert_eq!(&names[names.len() - 2..], ["messageStop", "metadata"]);
    }

    #[test]
    fn received_deltas_are_kept_as_they_came_and_odd_ones_fall_back_to_one_piece() {
        let response = crate::scripted::text_response("晴れです。");
        let texts = |frames: Vec<StreamFrame>| -> Vec<Value> {
            frames
                .into_iter()
                .filter_map(|frame| match frame {
                    StreamFrame::Event { payload, .. } => payload["delta"].get("text").cloned(),
                    StreamFrame::Exception { .. } => None,
                })
                .collect()
        };
        let as_received = ["晴れ".to_owned(), "です。".to_owned()];
        assert_eq!(
            texts(frames_as_received(&response, &as_received)),
            [json!("晴れ"), json!("です。")]
        );
        let unrelated = ["雨".to_owned()];
        assert_eq!(
            texts(frames_as_received(&response, &unrelated)),
            [json!("晴れです。")]
        );
    }
}
