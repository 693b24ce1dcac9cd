//! ConverseStream response bodies as Bedrock sends them, for replay and tests: a recording holds
//! the stream's messages as JSON ([`StreamFrame`], in the order Bedrock sends them), and
//! [`encode_stream_body`] frames them as the binary `application/vnd.amazon.eventstream` body —
//! prelude, headers, payload, CRCs — with the AWS event-stream crate the SDK itself reads them
//! with, so the real client parses exactly what it would parse from Bedrock.

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::message::ContentBlock;
use crate::model::ModelResponse;

/// The content type of a ConverseStream response body.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// One message of a ConverseStream response: an event (`messageStart`, `contentBlockDelta`, …)
/// or an exception (`throttlingException`, `modelStreamErrorException`, …), with its JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StreamFrame {
    Event { event: String, payload: Value },
    Exception { exception: String, payload: Value },
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

    fn to_message(&self) -> Message {
        let (kind, type_header, name, payload) = match self {
            Self::Event { event, payload } => ("event", ":event-type", event, payload),
            Self::Exception { exception, payload } => {
                ("exception", ":exception-type", exception, payload)
            }
        };
        let text = |value: &str| HeaderValue::String(value.to_owned().into());
        Message::new(payload.to_string().into_bytes())
            .add_header(Header::new(":message-type", text(kind)))
            .add_header(Header::new(type_header, text(name)))
            .add_header(Header::new(":content-type", text("application/json")))
    }
}

/// The response body carrying `frames`, each as one event-stream message.
pub fn encode_stream_body(frames: &[StreamFrame]) -> Vec<u8> {
    let mut body = Vec::new();
    for frame in frames {
        // Writing to a Vec cannot fail; a frame over the format's 16 MB limit is a bug here.
        if let Err(error) =
            aws_smithy_eventstream::frame::write_message_to(&frame.to_message(), &mut body)
        {
            panic!("an event-stream frame could not be written: {error}");
        }
    }
    body
}

/// The frames ConverseStream sends for `response`: its text in pieces of at most `chunk`
/// characters, each tool use's input JSON in pieces of at most `chunk` characters too.
pub fn frames_for(response: &ModelResponse, chunk: usize) -> Vec<StreamFrame> {
    let chunk = chunk.max(1);
    let mut frames = vec![StreamFrame::event(
        "messageStart",
        json!({"role": response.message.role}),
    )];
    for (index, block) in response.message.content.iter().enumerate() {
        let pieces = |text: &str| -> Vec<String> {
            let chars: Vec<char> = text.chars().collect();
            chars
                .chunks(chunk)
                .map(|piece| piece.iter().collect())
                .collect()
        };
        match block {
            ContentBlock::Text(text) => {
                for piece in pieces(text) {
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
                for piece in pieces(&tool_use.input.to_string()) {
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
    fn frames_are_read_back_by_the_event_stream_decoder() {
        let frames = [
            StreamFrame::event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "晴れ"}}),
            ),
            StreamFrame::exception("throttlingException", "slow down"),
        ];
        let mut body = bytes::Bytes::from(encode_stream_body(&frames));
        let mut decoder = aws_smithy_eventstream::frame::MessageFrameDecoder::new();
        for frame in &frames {
            let decoded = match decoder.decode_frame(&mut body).unwrap() {
                aws_smithy_eventstream::frame::DecodedFrame::Complete(message) => message,
                other => panic!("{other:?}"),
            };
            assert_eq!(decoded, frame.to_message());
            let payload: Value = serde_json::from_slice(decoded.payload()).unwrap();
            let (StreamFrame::Event {
                payload: expected, ..
            }
            | StreamFrame::Exception {
                payload: expected, ..
            }) = frame;
            assert_eq!(&payload, expected);
        }
    }

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
}
