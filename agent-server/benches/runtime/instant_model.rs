//! The model every in-process section serves: it answers the tutorial's calculator turn at
//! once (a prompt gets a calculator tool use, a tool result gets the answer), so the figures are
//! the runtime's own cost; and the tutorial entrypoint and store around it.

use std::sync::Arc;

use agent_core::session::{MemorySessionStore, SessionConfig, SessionStore};
use agent_core::{
    AgentConfig, ContentBlock, ConverseRequest, Message, Model, ModelError, ModelResponse, Role,
    StopReason, ToolUse, Usage,
};
use agent_server::tutorial::TutorialEntrypoint;
use agent_tools::Clock;
use async_trait::async_trait;
use serde_json::json;

/// Answers the tutorial's calculator turn at once: a prompt gets a calculator tool use, a tool
/// result gets the answer, and a thank-you gets a plain reply.
pub(crate) struct InstantModel;

#[async_trait]
impl Model for InstantModel {
    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        let last = request.messages.last().expect("a request has messages");
        let (content, stop_reason) = if last.tool_results().next().is_some() {
            (
                vec![ContentBlock::Text("Mairaさん、2+5の答えは7です。".into())],
                StopReason::EndTurn,
            )
        } else if last.text().contains("ありがとう") {
            (
                vec![ContentBlock::Text("どういたしまして、Mairaさん。".into())],
                StopReason::EndTurn,
            )
        } else {
            (
                vec![
                    ContentBlock::Text("Mairaさん、計算します。".into()),
                    ContentBlock::ToolUse(ToolUse {
                        tool_use_id: format!("tooluse_bench_{:06}", request.messages.len()),
                        name: "calculator".into(),
                        input: json!({"expression": "2+5"}),
                    }),
                ],
                StopReason::ToolUse,
            )
        };
        Ok(ModelResponse {
            message: Message {
                role: Role::Assistant,
                content,
            },
            stop_reason,
            usage: Usage::default(),
        })
    }
}

impl std::fmt::Display for InstantModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "instant".into() };
        formatter.write_str(&text)
    }
}

/// The tutorial on the instant model, with its sessions in `store`.
pub(crate) fn entrypoint(store: Arc<dyn SessionStore>) -> TutorialEntrypoint {
    TutorialEntrypoint::with_model(
        Arc::new(InstantModel),
        Clock::Local,
        AgentConfig::default(),
        store,
    )
}

/// An in-memory store for up to `max_sessions`; its line per session is long enough for the
/// 64 clients of the one-session rows, which measure serving in turn, not refusing.
pub(crate) fn memory_store(max_sessions: usize) -> MemorySessionStore {
    MemorySessionStore::new(SessionConfig {
        max_sessions,
        max_waiting: 1_000,
        ..SessionConfig::default()
    })
}

/// Every response must be this exact body, so only complete, correct invocations count.
pub(crate) const EXPECTED_ANSWER: &str = "\"Mairaさん、2+5の答えは7です。\"";

/// True when a server-sent event stream ends with the `result` event of the expected answer.
pub(crate) fn ends_with_the_expected_result(body: &[u8]) -> bool {
    let body = String::from_utf8_lossy(body);
    let Some(last) = body.trim_end().rsplit("\n\n").next() else {
        return false;
    };
    let Some(data) = last.strip_prefix("data: ") else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(data).is_ok_and(|event| {
        event["result"]["text"].as_str()
            == EXPECTED_ANSWER
                .strip_prefix('"')
                .and_then(|answer| answer.strip_suffix('"'))
    })
}
