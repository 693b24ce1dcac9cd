//! Sessions written by the Python stack (`bedrock-agentcore`'s `AgentCoreMemorySessionManager`
//! for Strands), read so that an agent moved to this runtime continues its users' conversations.
//!
//! What is read: each `conversational` item whose text is a Strands `SessionMessage` (JSON with
//! a `message` in Bedrock's shape), and each `blob` holding the `[text, role]` pair the manager
//! writes for a message over 100,000 characters; a `conversational` item of plain text (another
//! client's) is read as a text message of its role (`USER`, `ASSISTANT`). Of each message, the
//! text, tool use and tool result blocks (text and JSON results) are kept.
//!
//! What is skipped: the session and agent records (blobs tagged `stateType`), items of roles
//! `TOOL` and `OTHER`, other content blocks (images, documents, reasoning, cache points), and
//! the `<user_context>` blocks the manager puts into prompts — long-term memories are retrieved
//! afresh each turn here, not replayed from history. Last, a turn that was interrupted (a tool
//! use without its result, a prompt without an answer) is dropped whole, so the restored
//! history is one Bedrock accepts.

use serde_json::Value;

use crate::message::{ContentBlock, Message, Role};

/// The tag the Python manager wraps long-term memories in, by default.
const USER_CONTEXT_OPEN: &str = "<user_context>";
const USER_CONTEXT_CLOSE: &str = "</user_context>";

/// A message from a `conversational` item's text and role (`USER`, `ASSISTANT`, ...).
pub(crate) fn conversational_message(text: &str, role: &str) -> Option<Message> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(session_message)) if session_message.contains_key("message") => {
            session_message.get("message").and_then(bedrock_message)
        }
        _ => {
            let role = match role {
                "USER" => Role::User,
                "ASSISTANT" => Role::Assistant,
                _ => return None,
            };
            Some(Message {
                role,
                content: vec![ContentBlock::Text(text.to_owned())],
            })
        }
    }
}

/// A message from a blob the Python manager wrote for a message too long to be conversational:
/// the JSON text of `[session message text, role]`.
pub(crate) fn blob_message(blob: &str) -> Option<Message> {
    let Ok(Value::Array(pair)) = serde_json::from_str::<Value>(blob) else {
        return None;
    };
    match pair.as_slice() {
        [Value::String(text), Value::String(role)] => conversational_message(text, role),
        _ => None,
    }
}

/// A Bedrock-shaped `{role, content}` as this runtime's message, keeping the blocks it knows.
fn bedrock_message(message: &Value) -> Option<Message> {
    let role: Role = serde_json::from_value(message.get("role")?.clone()).ok()?;
    let content: Vec<ContentBlock> = message
        .get("content")?
        .as_array()?
        .iter()
        .filter_map(content_block)
        .collect();
    (!content.is_empty()).then_some(Message { role, content })
}

/// One content block, if it is text (not blank, not injected memories), a tool use, or a tool
/// result (its text and JSON parts).
fn content_block(block: &Value) -> Option<ContentBlock> {
    if let Some(text) = block.get("text").and_then(Value::as_str) {
        let trimmed = text.trim();
        let injected =
            trimmed.starts_with(USER_CONTEXT_OPEN) && trimmed.ends_with(USER_CONTEXT_CLOSE);
        return (!trimmed.is_empty() && !injected).then(|| ContentBlock::Text(text.to_owned()));
    }
    if block.get("toolUse").is_some() {
        return serde_json::from_value(block.clone()).ok();
    }
    let mut result = block.get("toolResult")?.clone();
    if let Some(Value::Array(parts)) = result.get_mut("content") {
        parts.retain(|part| part.get("text").is_some() || part.get("json").is_some());
        if parts.is_empty() {
            parts.push(serde_json::json!({"text": "(the tool's output was not text)"}));
        }
    }
    if result.get("status").is_none() {
        result["status"] = Value::from("success");
    }
    serde_json::from_value(serde_json::json!({ "toolResult": result })).ok()
}

/// The complete turns of `messages`, in order; returns how many turns were dropped.
///
/// A turn is a user prompt, then rounds of tool uses each answered by all their results in the
/// next message, then an answer without tool uses; roles alternate throughout.
pub(crate) fn complete_turns(messages: Vec<Message>) -> (Vec<Message>, usize) {
    let mut kept = Vec::with_capacity(messages.len());
    let mut dropped = 0;
    let mut turn: Vec<Message> = Vec::new();
    let mut flush = |turn: &mut Vec<Message>, kept: &mut Vec<Message>| {
        if turn.is_empty() {
            return;
        }
        if is_complete(turn) {
            kept.append(turn);
        } else {
            dropped += 1;
            turn.clear();
        }
    };
    for message in messages {
        if message.starts_turn() {
            flush(&mut turn, &mut kept);
        }
        turn.push(message);
    }
    flush(&mut turn, &mut kept);
    (kept, dropped)
}

/// Whether `turn` is one whole exchange Bedrock accepts in a history.
fn is_complete(turn: &[Message]) -> bool {
    let Some(last) = turn.last() else {
        return false;
    };
    let alternates = turn.iter().enumerate().all(|(index, message)| {
        message.role
            == if index % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            }
    });
    let answered = turn.windows(2).all(|pair| {
        let uses: Vec<_> = pair[0]
            .tool_uses()
            .map(|tool_use| &tool_use.tool_use_id)
            .collect();
        let results: Vec<_> = pair[1]
            .tool_results()
            .map(|result| &result.tool_use_id)
            .collect();
        match pair[0].role {
            Role::Assistant => {
                uses.iter().all(|id| results.contains(id)) && results.len() == uses.len()
            }
            Role::User => true,
        }
    });
    turn[0].starts_turn()
        && alternates
        && answered
        && last.role == Role::Assistant
        && last.tool_uses().next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ToolResult, ToolUse};
    use serde_json::json;

    fn session_message(message: Value) -> String {
        json!({
            "message": message,
            "message_id": 0,
            "redact_message": null,
            "created_at": "2026-11-30T10:00:00.000000+00:00",
            "updated_at": "2026-11-30T10:00:00.000000+00:00",
        })
        .to_string()
    }

    #[test]
    fn strands_messages_keep_text_and_tools_and_drop_the_rest() {
        let text = session_message(json!({"role": "user", "content": [
            {"text": "<user_context>Likes Celsius</user_context>"},
            {"text": "What is the weather?"},
            {"image": {"format": "png", "source": {"bytes": {"__bytes_encoded__": true, "data": "AA=="}}}},
        ]}));
        assert_eq!(
            conversational_message(&text, "USER").unwrap(),
            Message::user("What is the weather?")
        );

        let tool = session_message(json!({"role": "user", "content": [
            {"toolResult": {"toolUseId": "t1", "status": "success", "content": [
                {"text": "sunny"}, {"image": {"format": "png", "source": {"bytes": "AA=="}}}
            ]}}
        ]}));
        assert_eq!(
            conversational_message(&tool, "USER").unwrap().content,
            vec![ContentBlock::ToolResult(ToolResult::success("t1", "sunny"))]
        );
    }

    #[test]
    fn plain_text_items_and_long_message_blobs_are_read() {
        assert_eq!(
            conversational_message("hello", "USER").unwrap(),
            Message::user("hello")
        );
        assert!(conversational_message("note", "OTHER").is_none());
        let answer = session_message(json!({"role": "assistant", "content": [{"text": "7"}]}));
        let blob = serde_json::to_string(&json!([answer, "assistant"])).unwrap();
        assert_eq!(blob_message(&blob).unwrap(), Message::assistant("7"));
        assert!(blob_message(r#"{"session_id": "s"}"#).is_none());
    }

    #[test]
    fn interrupted_turns_are_dropped_whole() {
        let tool_use = Message {
            role: Role::Assistant,
            content: vec![ContentBlock::ToolUse(ToolUse {
                tool_use_id: "t1".into(),
                name: "weather".into(),
                input: json!({}),
            })],
        };
        let tool_result = Message {
            role: Role::User,
            content: vec![ContentBlock::ToolResult(ToolResult::success("t1", "sunny"))],
        };
        let history = vec![
            Message::user("one"),
            Message::assistant("1"),
            Message::user("interrupted mid-tool"),
            tool_use.clone(),
            Message::user("no answer"),
            Message::user("two"),
            tool_use,
            tool_result,
            Message::assistant("sunny"),
        ];
        let (kept, dropped) = complete_turns(history.clone());
        assert_eq!(dropped, 2);
        assert_eq!(kept[..2], history[..2]);
        assert_eq!(kept[2..], history[5..]);
    }
}
