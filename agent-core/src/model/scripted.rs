//! A model that answers from a function instead of a service: for tests and examples.

use crate::sync::lock;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::message::{ContentBlock, Message, Role, ToolUse};
use crate::model::{ConverseRequest, Model, ModelError, ModelResponse, StopReason, Usage};

type Answer = dyn Fn(&[Message]) -> Result<ModelResponse, ModelError> + Send + Sync;

/// A model whose answers come from a closure over the request's messages, and that keeps
/// every request it received so tests can see exactly what was sent.
#[derive(Clone)]
pub struct ScriptedModel {
    answer: Arc<Answer>,
    delay: Duration,
    requests: Arc<Mutex<Vec<Vec<Message>>>>,
}

impl ScriptedModel {
    /// A model answering with `answer(messages)`.
    pub fn new(
        answer: impl Fn(&[Message]) -> Result<ModelResponse, ModelError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            answer: Arc::new(answer),
            delay: Duration::ZERO,
            requests: Arc::default(),
        }
    }

    /// A model that plays `responses` in order, then fails with `Rejected`.
    pub fn sequence(responses: Vec<Result<ModelResponse, ModelError>>) -> Self {
        let queue = Mutex::new(std::collections::VecDeque::from(responses));
        Self::new(move |_| {
            lock(&queue).pop_front().unwrap_or_else(|| {
                Err(ModelError::Rejected {
                    message: "the script has no more responses".into(),
                })
            })
        })
    }

    /// Waits `delay` (on tokio time) before each answer.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The messages of every request received so far, in order.
    pub fn requests(&self) -> Vec<Vec<Message>> {
        lock(&self.requests).clone()
    }
}

#[async_trait]
impl Model for ScriptedModel {
    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        lock(&self.requests).push(request.messages.to_vec());
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        (self.answer)(request.messages)
    }
}

impl std::fmt::Display for ScriptedModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "scripted".into() };
        formatter.write_str(&text)
    }
}

/// An `end_turn` response with one text block.
pub fn text_response(text: &str) -> ModelResponse {
    ModelResponse {
        message: Message::assistant(text),
        stop_reason: StopReason::EndTurn,
        usage: Usage::default(),
    }
}

/// A `tool_use` response asking for the given `(id, name, input)` tool uses.
pub fn tool_use_response(uses: &[(&str, &str, serde_json::Value)]) -> ModelResponse {
    ModelResponse {
        message: Message {
            role: Role::Assistant,
            content: uses
                .iter()
                .map(|(id, name, input)| {
                    ContentBlock::ToolUse(ToolUse {
                        tool_use_id: (*id).into(),
                        name: (*name).into(),
                        input: input.clone(),
                    })
                })
                .collect(),
        },
        stop_reason: StopReason::ToolUse,
        usage: Usage::default(),
    }
}
