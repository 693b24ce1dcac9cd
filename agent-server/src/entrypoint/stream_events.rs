//! The streaming events of our agent, as the contract document defines them: each SSE `data:`
//! line (each WebSocket text message) is one JSON value — a string for model text as it arrives,
//! `{"tool_use": …}` and `{"tool_result": …}` objects for tool calls, `{"result": …}` last, or on
//! failure the contract's error event last. Clients ignore kinds they do not know.

use agent_core::{AgentEvent, AgentReply};
use serde_json::{Value, json};

use crate::error::InvocationError;

/// The JSON value of one step of an invocation.
pub(crate) fn event_value(event: &AgentEvent) -> Value {
    match event {
        AgentEvent::TextDelta(text) => Value::String(text.clone()),
        AgentEvent::ToolUse(tool_use) => json!({ "tool_use": tool_use }),
        AgentEvent::ToolResult { name, result } => json!({ "tool_result": {
            "toolUseId": result.tool_use_id,
            "name": name,
            "status": result.status,
            "content": result.content,
        }}),
    }
}

/// The last event of a successful invocation; `text` equals the non-streaming answer.
pub(crate) fn result_value(reply: &AgentReply) -> Value {
    json!({ "result": {
        "text": reply.text,
        "stop_reason": reply.stop_reason,
        "usage": reply.usage,
    }})
}

/// The last event of a failed stream, as the reference runtime frames it.
pub(crate) fn error_value(error: &InvocationError) -> Value {
    json!({
        "error": error.to_string(),
        "error_type": error.kind(),
        "message": "An error occurred during streaming",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_core::{StopReason, ToolResult, ToolUse, Usage};

    #[test]
    fn events_have_the_contract_shapes() {
        assert_eq!(
            event_value(&AgentEvent::TextDelta("晴れ".into())),
            json!("晴れ")
        );
        let tool_use = ToolUse {
            tool_use_id: "t1".into(),
            name: "calculator".into(),
            input: json!({"expression": "2+5"}),
        };
        assert_eq!(
            event_value(&AgentEvent::ToolUse(tool_use)),
            json!({"tool_use": {"toolUseId": "t1", "name": "calculator", "input": {"expression": "2+5"}}})
        );
        let result = ToolResult::success("t1", "Result: 7");
        assert_eq!(
            event_value(&AgentEvent::ToolResult {
                name: "calculator".into(),
                result
            }),
            json!({"tool_result": {"toolUseId": "t1", "name": "calculator", "status": "success",
                   "content": [{"text": "Result: 7"}]}})
        );
        let reply = AgentReply {
            text: "7".into(),
            stop_reason: StopReason::EndTurn,
            usage: Usage {
                input_tokens: 1,
                output_tokens: 2,
                total_tokens: 3,
            },
            cycles: 2,
        };
        assert_eq!(
            result_value(&reply),
            json!({"result": {"text": "7", "stop_reason": "end_turn",
                   "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}}})
        );
    }
}
