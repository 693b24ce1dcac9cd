//! The agent loop: call the model, run the tools it asks for, feed the results back, repeat.
//!
//! An `Agent` is a *definition* — model, tools, system prompt, limits — shared read-only by every
//! session. The conversation it works on is passed in by the caller, so no state of one session
//! can reach another through the agent.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use crate::conversation::{Conversation, SlidingWindow};
use crate::error::AgentError;
use crate::message::{ContentBlock, Message, Role};
use crate::model::{ConverseRequest, Model, ModelError, ModelResponse, StopReason, Usage};
use crate::retry::RetryPolicy;
use crate::session::SessionTurn;
use crate::tool::{RegistryError, Tool, ToolRegistry};

/// Limits and policies of an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentConfig {
    /// Model calls allowed in one invocation before it is stopped as a runaway tool loop.
    pub max_cycles: u32,
    /// How much history is kept between invocations.
    pub window: SlidingWindow,
    /// Retries of throttled and 5xx model calls.
    pub retry: RetryPolicy,
    /// How long one model call may take.
    pub model_timeout: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            max_cycles: 20,
            window: SlidingWindow::default(),
            retry: RetryPolicy::default(),
            model_timeout: Duration::from_secs(120),
        }
    }
}

/// A tool-using agent definition.
pub struct Agent {
    model: Arc<dyn Model>,
    tools: ToolRegistry,
    system_prompt: String,
    config: AgentConfig,
}

/// The outcome of a successful invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentReply {
    /// The text of the model's last message.
    pub text: String,
    pub stop_reason: StopReason,
    /// Tokens summed over every model call of the invocation.
    pub usage: Usage,
    /// Model calls made.
    pub cycles: u32,
}

/// Builds an [`Agent`].
pub struct AgentBuilder {
    model: Arc<dyn Model>,
    tools: ToolRegistry,
    system_prompt: String,
    config: AgentConfig,
}

impl AgentBuilder {
    /// The system prompt sent with every call.
    pub fn system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = prompt.into();
        self
    }

    /// Offers a tool to the model.
    pub fn tool(mut self, tool: Arc<dyn Tool>) -> Result<Self, RegistryError> {
        self.tools.register(tool)?;
        Ok(self)
    }

    /// Replaces the limits and policies.
    pub fn config(mut self, config: AgentConfig) -> Self {
        self.config = config;
        self
    }

    /// The finished, immutable definition.
    pub fn build(self) -> Agent {
        Agent {
            model: self.model,
            tools: self.tools,
            system_prompt: self.system_prompt,
            config: self.config,
        }
    }
}

impl Agent {
    /// Starts a definition around `model`.
    pub fn builder(model: Arc<dyn Model>) -> AgentBuilder {
        AgentBuilder {
            model,
            tools: ToolRegistry::new(),
            system_prompt: String::new(),
            config: AgentConfig::default(),
        }
    }

    /// The model in use.
    pub fn model(&self) -> &dyn Model {
        self.model.as_ref()
    }

    /// The limits and policies in use.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Answers `prompt` in `conversation`, appending the whole exchange to it.
    ///
    /// On any error — and if the returned future is dropped half-way — the conversation is
    /// exactly as it was before the call, so the next invocation starts from a valid history.
    pub async fn invoke(
        &self,
        conversation: &mut Conversation,
        prompt: &str,
    ) -> Result<AgentReply, AgentError> {
        if prompt.trim().is_empty() {
            return Err(AgentError::InvalidInput("the prompt is empty".into()));
        }
        let transaction = Transaction::begin(conversation);
        transaction.conversation.push(Message::user(prompt));
        let reply = self.run_cycles(transaction.conversation).await?;
        transaction.commit();
        self.config.window.apply(conversation);
        Ok(reply)
    }

    /// Answers `prompt` in a session's turn; commit the turn to keep the exchange.
    pub async fn invoke_in(
        &self,
        turn: &mut SessionTurn,
        prompt: &str,
    ) -> Result<AgentReply, AgentError> {
        self.invoke(turn.conversation_mut(), prompt).await
    }

    async fn run_cycles(&self, conversation: &mut Conversation) -> Result<AgentReply, AgentError> {
        let mut usage = Usage::default();
        for cycle in 1..=self.config.max_cycles {
            let response = self.call_model(conversation).await?;
            usage += response.usage;
            let ModelResponse {
                message,
                stop_reason,
                ..
            } = response;
            let tool_uses: Vec<_> = message.tool_uses().cloned().collect();
            match (&stop_reason, tool_uses.is_empty()) {
                (StopReason::ToolUse, false) => {
                    conversation.push(message.for_history());
                    let results =
                        join_all(tool_uses.iter().map(|tool_use| self.tools.run(tool_use))).await;
                    conversation.push(Message {
                        role: Role::User,
                        content: results.into_iter().map(ContentBlock::ToolResult).collect(),
                    });
                }
                (StopReason::ToolUse, true) => {
                    return Err(malformed(
                        "stop reason tool_use but no tool use in the message",
                    ));
                }
                (StopReason::MaxTokens, false) => {
                    return Err(malformed(
                        "the answer was cut off at max_tokens in the middle of a tool use",
                    ));
                }
                (_, false) => {
                    return Err(malformed(&format!(
                        "tool uses in a message whose stop reason is {}",
                        stop_reason.as_str()
                    )));
                }
                (_, true) => {
                    let text = message.text();
                    conversation.push(message.for_history());
                    return Ok(AgentReply {
                        text,
                        stop_reason,
                        usage,
                        cycles: cycle,
                    });
                }
            }
        }
        Err(AgentError::ToolLoopCap {
            cycles: self.config.max_cycles,
        })
    }

    /// One model call with timeout, and retries of transient failures.
    async fn call_model(&self, conversation: &Conversation) -> Result<ModelResponse, AgentError> {
        let retry = self.config.retry;
        let mut attempt = 1;
        loop {
            let request = ConverseRequest {
                system: &self.system_prompt,
                messages: conversation.messages(),
                tools: self.tools.specs(),
            };
            let outcome =
                tokio::time::timeout(self.config.model_timeout, self.model.converse(request))
                    .await
                    .unwrap_or(Err(ModelError::Timeout(self.config.model_timeout)));
            let error = match outcome {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            if !error.is_retryable() || attempt >= retry.max_attempts {
                return Err(give_up(error, attempt, &retry));
            }
            let delay = retry.delay_after(attempt);
            tracing::warn!(attempt, ?delay, %error, "model call failed; retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

fn malformed(message: &str) -> AgentError {
    AgentError::Model(ModelError::Malformed {
        message: message.to_owned(),
    })
}

fn give_up(error: ModelError, attempts: u32, retry: &RetryPolicy) -> AgentError {
    match error {
        ModelError::Throttled { message } => AgentError::Throttled {
            attempts,
            message,
            retry_after_secs: retry.retry_after_secs(),
        },
        ModelError::Timeout(limit) => AgentError::Timeout(limit),
        other => AgentError::Model(other),
    }
}

/// Undoes everything appended to a conversation unless committed — also when the invocation's
/// future is dropped part-way (a client that hung up), so no half-written turn survives.
struct Transaction<'a> {
    conversation: &'a mut Conversation,
    len_before: usize,
    committed: bool,
}

impl<'a> Transaction<'a> {
    fn begin(conversation: &'a mut Conversation) -> Self {
        let len_before = conversation.len();
        Self {
            conversation,
            len_before,
            committed: false,
        }
    }

    fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.conversation.truncate(self.len_before);
        }
    }
}
