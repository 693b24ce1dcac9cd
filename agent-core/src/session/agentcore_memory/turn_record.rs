//! The event this runtime writes for one committed turn, and how it is read back.
//!
//! One event holds the whole turn, so a turn is stored entirely or not at all:
//! - a `blob`: the JSON text `{"agentRuntimeTurn": 1, "messages": [...], "state": {...}}` — the
//!   turn's messages exactly as Bedrock takes them (tool uses and results included) and the
//!   session's state after it; this is what a restore reads;
//! - `conversational` items, the prompt (`USER`) and the answer (`ASSISTANT`) as text, which is
//!   what Memory's long-term strategies extract from. A restore skips them in favour of the blob.

use aws_sdk_bedrockagentcore::types::{Content, Conversational, PayloadType, Role};
use aws_smithy_types::Document;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::message::{Message, Role as MessageRole};
use crate::session::SessionState;

/// The key that marks a blob as this runtime's turn, with the format's version as its value.
const TURN_KEY: &str = "agentRuntimeTurn";

/// The format written and read.
const TURN_FORMAT: u32 = 1;

/// The longest text of a `conversational` item.
const MAX_CONVERSATIONAL_CHARS: usize = 100_000;

/// A turn as the blob holds it.
#[derive(Serialize, Deserialize)]
struct TurnRecord<M> {
    #[serde(rename = "agentRuntimeTurn")]
    format: u32,
    messages: M,
    state: Map<String, Value>,
}

/// What a turn's blob holds once read.
#[derive(Debug, PartialEq)]
pub(crate) struct StoredTurn {
    pub messages: Vec<Message>,
    pub state: Map<String, Value>,
}

/// The blob's text for a turn: what the client token is made from, and what is written.
pub(crate) fn turn_blob(turn: &[Message], state: &SessionState) -> String {
    let record = TurnRecord {
        format: TURN_FORMAT,
        messages: turn,
        state: state.values().clone(),
    };
    serde_json::to_string(&record).expect("messages and JSON values always serialize")
}

/// The event's payload for a turn whose blob is `blob`.
pub(crate) fn turn_payload(turn: &[Message], blob: String) -> Vec<PayloadType> {
    let prompt = turn.first().filter(|message| message.starts_turn());
    let answer = turn
        .last()
        .filter(|message| message.role == MessageRole::Assistant);
    let conversational = [(prompt, Role::User), (answer, Role::Assistant)]
        .into_iter()
        .filter_map(|(message, role)| {
            let text = message?.text();
            let text = truncated(text.trim(), MAX_CONVERSATIONAL_CHARS);
            (!text.is_empty()).then(|| {
                PayloadType::Conversational(
                    Conversational::builder()
                        .content(Content::Text(text.to_owned()))
                        .role(role)
                        .build()
                        .expect("content and role are set"),
                )
            })
        });
    conversational
        .chain([PayloadType::Blob(Document::String(blob))])
        .collect()
}

/// Reads a blob: `None` when it is not a turn of this runtime, an error when it is one that
/// cannot be read.
pub(crate) fn read_turn(blob: &Document) -> Option<Result<StoredTurn, String>> {
    let Document::String(text) = blob else {
        return None;
    };
    if !text.contains(TURN_KEY) {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let format = value.get(TURN_KEY)?;
    if format.as_u64() != Some(u64::from(TURN_FORMAT)) {
        return Some(Err(format!(
            "a turn in format {format}, which this version does not read"
        )));
    }
    Some(
        serde_json::from_value::<TurnRecord<Vec<Message>>>(value)
            .map(|record| StoredTurn {
                messages: record.messages,
                state: record.state,
            })
            .map_err(|error| format!("a turn that cannot be read: {error}")),
    )
}

/// `text` cut to at most `max` characters, on a character boundary.
fn truncated(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(index, _)| &text[..index])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ContentBlock, ToolResult, ToolUse};
    use serde_json::json;

    fn tool_turn() -> Vec<Message> {
        vec![
            Message::user("What is 2+5?"),
            Message {
                role: MessageRole::Assistant,
                content: vec![ContentBlock::ToolUse(ToolUse {
                    tool_use_id: "t1".into(),
                    name: "calculator".into(),
                    input: json!({"expression": "2+5"}),
                })],
            },
            Message {
                role: MessageRole::User,
                content: vec![ContentBlock::ToolResult(ToolResult::success("t1", "7"))],
            },
            Message::assistant("2+5 = 7"),
        ]
    }

    #[test]
    fn a_turn_round_trips_through_its_blob_with_its_state() {
        let mut state = SessionState::default();
        state.set("visits", 2).unwrap();
        let blob = turn_blob(&tool_turn(), &state);
        let stored = read_turn(&Document::String(blob)).unwrap().unwrap();
        assert_eq!(stored.messages, tool_turn());
        assert_eq!(stored.state["visits"], json!(2));
    }

    #[test]
    fn the_prompt_and_the_answer_are_conversational_beside_the_blob() {
        let payload = turn_payload(&tool_turn(), "{}".into());
        let texts: Vec<_> = payload
            .iter()
            .filter_map(|item| item.as_conversational().ok())
            .map(|item| {
                (
                    item.role().as_str().to_owned(),
                    item.content().unwrap().as_text().unwrap().clone(),
                )
            })
            .collect();
        assert_eq!(
            texts,
            [
                ("USER".to_owned(), "What is 2+5?".to_owned()),
                ("ASSISTANT".to_owned(), "2+5 = 7".to_owned())
            ]
        );
        assert!(payload.last().unwrap().is_blob());
    }

    #[test]
    fn long_texts_are_cut_to_the_conversational_limit_on_a_character() {
        let long = "é".repeat(MAX_CONVERSATIONAL_CHARS + 5);
        let payload = turn_payload(
            &[Message::user(long), Message::assistant("ok")],
            "{}".into(),
        );
        let text = payload[0]
            .as_conversational()
            .unwrap()
            .content()
            .unwrap()
            .as_text()
            .unwrap();
        assert_eq!(text.chars().count(), MAX_CONVERSATIONAL_CHARS);
    }

    #[test]
    fn other_blobs_are_not_turns_and_broken_turns_are_errors() {
        assert!(read_turn(&Document::String(r#"["{}", "user"]"#.into())).is_none());
        assert!(read_turn(&Document::Bool(true)).is_none());
        let broken =
            Document::String(r#"{"agentRuntimeTurn": 1, "messages": 3, "state": {}}"#.into());
        assert!(read_turn(&broken).unwrap().is_err());
        let future = Document::String(r#"{"agentRuntimeTurn": 2}"#.into());
        assert!(
            read_turn(&future)
                .unwrap()
                .unwrap_err()
                .contains("format 2")
        );
    }
}
