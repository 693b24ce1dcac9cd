//! ConverseStream response bodies as Bedrock sends them, for replay and tests:
//! [`encode_stream_body`] frames recorded [`StreamFrame`]s as the binary
//! `application/vnd.amazon.eventstream` body — prelude, headers, payload, CRCs — with the AWS
//! event-stream crate the SDK itself reads them with, so the real client parses exactly what it
//! would parse from Bedrock.

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};

use super::frames::StreamFrame;

/// The content type of a ConverseStream response body.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The response body carrying `frames`, each as one event-stream message.
pub fn encode_stream_body(frames: &[StreamFrame]) -> Vec<u8> {
    let mut body = Vec::new();
    for frame in frames {
        // Writing to a Vec cannot fail; a frame over the format's 16 MB limit is a bug here.
        if let Err(error) =
            aws_smithy_eventstream::frame::write_message_to(&to_message(frame), &mut body)
        {
            panic!("an event-stream frame could not be written: {error}");
        }
    }
    body
}

/// One frame as an event-stream message, with the headers Bedrock sets.
fn to_message(frame: &StreamFrame) -> Message {
    let (kind, type_header, name, payload) = match frame {
        StreamFrame::Event { event, payload } => ("event", ":event-type", event, payload),
        StreamFrame::Exception { exception, payload } => {
            ("exception", ":exception-type", exception, payload)
        }
    };
    let text = |value: &str| HeaderValue::String(value.to_owned().into());
    Message::new(payload.to_string().into_bytes())
        .add_header(Header::new(":message-type", text(kind)))
        .add_header(Header::new(type_header, text(name)))
        .add_header(Header::new(":content-type", text("application/json")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

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
            assert_eq!(decoded, to_message(frame));
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
}
