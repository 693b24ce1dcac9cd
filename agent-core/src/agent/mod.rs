//! The agent loop: call the model, run the tools it asks for, feed the results back, repeat.
//!
//! An `Agent` is a *definition* — model, tools, system prompt, limits — shared read-only by every
//! session. The conversation it works on is passed in by the caller, so no state of one session
//! can reach another through the agent.
//!
//! Around the loop, each in a file of its own: its [`config`] and [`reply`], the [`events`] it
//! reports while it works, the [`retry`] policy for model calls, the [`error`]s it ends with, the
//! [`transaction`] that rolls a failed turn back, and the GenAI spans of [`telemetry`] (a leaf:
//! it knows the reply's types, not the loop).

pub(crate) mod config;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod recall;
pub(crate) mod reply;
pub(crate) mod retry;
mod structured_output;
pub mod telemetry;
pub(crate) mod transaction;

use std::sync::Arc;

use futures::StreamExt;
use futures::future::join_all;

use crate::conversation::Conversation;
use crate::message::{ContentBlock, Message, Role, ToolResult, ToolUse};
use crate::model::{
    ConverseRequest, InferenceConfig, Model, ModelError, ModelEvent, ModelResponse, StopReason,
    Usage,
};
use crate::session::{SessionState, SessionTurn};
use crate::tool::{
    RegistryError, SharedState, Tool, ToolRegistry, ToolSource, ToolSpec, TurnScope,
};

use self::config::AgentConfig;
use self::error::AgentError;
use self::events::{AgentEvent, AgentEvents, Disconnected, NoEvents};
use self::recall::{Recall, RecallQuery, user_context, with_context};
use self::reply::AgentReply;
use self::retry::RetryPolicy;
use self::telemetry::{GenAiSpan, InvocationSpan, Telemetry};
use self::transaction::Transaction;

/// A tool-using agent definition.
pub struct Agent {
    name: String,
    model: Arc<dyn Model>,
    tools: ToolRegistry,
    system_prompt: String,
    inference: InferenceConfig,
    config: AgentConfig,
    recall: Option<Arc<dyn Recall>>,
    telemetry: Telemetry,
}

/// Builds an [`Agent`].
pub struct AgentBuilder {
    name: String,
    model: Arc<dyn Model>,
    tools: ToolRegistry,
    system_prompt: String,
    inference: InferenceConfig,
    config: AgentConfig,
    recall: Option<Arc<dyn Recall>>,
}

impl AgentBuilder {
    /// The agent's name, as traces show it (`gen_ai.agent.name`); `agent` by default.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The system prompt sent with every call.
    pub fn system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = prompt.into();
        self
    }

    /// How the model samples its answers (Bedrock's `inferenceConfig`); by default the model's
    /// own defaults, and nothing is sent.
    pub fn inference(mut self, inference: InferenceConfig) -> Self {
        self.inference = inference;
        self
    }

    /// Offers a tool to the model.
    pub fn tool(mut self, tool: Arc<dyn Tool>) -> Result<Self, RegistryError> {
        self.tools.register(tool)?;
        Ok(self)
    }

    /// Adds the tools of a source whose set can change while the agent runs; see
    /// [`ToolSource`](crate::ToolSource).
    pub fn tool_source(mut self, source: Arc<dyn ToolSource>) -> Result<Self, RegistryError> {
        self.tools.register_source(source)?;
        Ok(self)
    }

    /// Long-term memory to consult before each turn; its memories reach the model in that turn's
    /// prompt and are not kept in the history.
    pub fn recall(mut self, recall: Arc<dyn Recall>) -> Self {
        self.recall = Some(recall);
        self
    }

    /// Replaces the limits and policies.
    pub fn config(mut self, config: AgentConfig) -> Self {
        self.config = config;
        self
    }

    /// The finished, immutable definition. Its tracer and metric instruments are taken from
    /// OpenTelemetry's global providers now: install them before building agents.
    pub fn build(self) -> Agent {
        let telemetry = Telemetry::from_global(
            &self.name,
            self.model.model_id(),
            self.config.record_content,
        );
        Agent {
            telemetry,
            name: self.name,
            model: self.model,
            tools: self.tools,
            system_prompt: self.system_prompt,
            inference: self.inference,
            config: self.config,
            recall: self.recall,
        }
    }
}

impl Agent {
    /// The `invoke_agent {name}` span of one invocation, a child of the current OpenTelemetry
    /// context, to run a session's turn in; the prompt is on it only when the agent records
    /// content.
    pub fn invocation_span(&self, prompt: &str) -> InvocationSpan {
        InvocationSpan::start(&self.telemetry, prompt)
    }

    /// Starts a definition around `model`.
    pub fn builder(model: Arc<dyn Model>) -> AgentBuilder {
        AgentBuilder {
            name: "agent".into(),
            model,
            tools: ToolRegistry::new(),
            system_prompt: String::new(),
            inference: InferenceConfig::default(),
            config: AgentConfig::default(),
            recall: None,
        }
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.name
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
        self.invoke_streaming(conversation, prompt, &mut NoEvents)
            .await
    }

    /// Answers `prompt` in a session's turn; commit the turn to keep the exchange.
    ///
    /// The turn's tools get their context from it — the session, the request it serves
    /// ([`SessionTurn::set_request`]) and the session's state, which the turn keeps only if the
    /// invocation succeeds.
    pub async fn invoke_in(
        &self,
        turn: &mut SessionTurn,
        prompt: &str,
    ) -> Result<AgentReply, AgentError> {
        self.invoke_streaming_in(turn, prompt, &mut NoEvents).await
    }

    /// As [`Agent::invoke`], reporting each step to `events` as it happens: the same loop,
    /// window and rollback, so both forms leave the same history for the same model answers. A
    /// sink whose reader has gone stops the invocation with [`AgentError::Disconnected`].
    ///
    /// Outside a session, tools see no session and a state of the invocation's own.
    pub async fn invoke_streaming(
        &self,
        conversation: &mut Conversation,
        prompt: &str,
        events: &mut dyn AgentEvents,
    ) -> Result<AgentReply, AgentError> {
        let state = SharedState::new(SessionState::default());
        let scope = TurnScope::new(None, Arc::default(), state);
        self.run_invocation(conversation, prompt, events, &scope)
            .await
    }

    /// As [`Agent::invoke_streaming`], in a session's turn, as [`Agent::invoke_in`] runs it.
    pub async fn invoke_streaming_in(
        &self,
        turn: &mut SessionTurn,
        prompt: &str,
        events: &mut dyn AgentEvents,
    ) -> Result<AgentReply, AgentError> {
        let key = turn.key().clone();
        let request = turn.request().clone();
        let (conversation, state) = turn.parts_mut();
        // The tools work on a copy; the turn's own state changes only once the invocation has
        // succeeded, so a failure, a timeout or a dropped future leaves it as it was.
        let shared = SharedState::new(state.clone());
        let scope = TurnScope::new(Some(key), request, shared.clone());
        let reply = self
            .run_invocation(conversation, prompt, events, &scope)
            .await?;
        *state = shared.snapshot();
        Ok(reply)
    }

    /// The invocation itself: its prompt, the cycles within the deadline, the window; all of it
    /// undone on failure. Tools waiting on cancellation are told if it ends any other way than
    /// by succeeding.
    async fn run_invocation(
        &self,
        conversation: &mut Conversation,
        prompt: &str,
        events: &mut dyn AgentEvents,
        scope: &TurnScope,
    ) -> Result<AgentReply, AgentError> {
        if prompt.trim().is_empty() {
            return Err(AgentError::InvalidInput("the prompt is empty".into()));
        }
        let cancel_unless_done = scope.cancellation().clone().drop_guard();
        let context = self.recall_for(prompt, scope).await;
        let transaction = Transaction::begin(conversation);
        transaction.conversation.push(Message::user(prompt));
        let limit = self.config.invocation_timeout;
        let cycles = self.run_cycles(transaction.conversation, events, scope, context.as_ref());
        let reply = tokio::time::timeout(limit, cycles)
            .await
            .map_err(|_| AgentError::InvocationTimeout(limit))??;
        transaction.commit();
        self.config.window.apply(conversation);
        cancel_unless_done.disarm();
        Ok(reply)
    }

    async fn run_cycles(
        &self,
        conversation: &mut Conversation,
        events: &mut dyn AgentEvents,
        scope: &TurnScope,
        context: Option<&ContentBlock>,
    ) -> Result<AgentReply, AgentError> {
        let mut usage = Usage::default();
        // The invocation's own prompt; everything before it may be trimmed once on overflow.
        let mut overflow = Overflow {
            turn_start: conversation.len() - 1,
            trimmed: false,
        };
        for cycle in 1..=self.config.max_cycles {
            let response = self
                .call_model(conversation, &mut overflow, events, context, None)
                .await?;
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
                    for tool_use in &tool_uses {
                        send(events, AgentEvent::ToolUse(tool_use.clone())).await?;
                    }
                    let results = join_all(
                        tool_uses
                            .iter()
                            .map(|tool_use| self.run_tool(tool_use, scope)),
                    )
                    .await;
                    for (tool_use, result) in tool_uses.iter().zip(&results) {
                        let name = tool_use.name.clone();
                        let result = result.clone();
                        send(events, AgentEvent::ToolResult { name, result }).await?;
                    }
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

    /// The long-term memories for `prompt` as a block for the model's copy of it; none when the
    /// agent has no memory, or when recalling fails or takes too long — a turn never fails for
    /// want of memories.
    async fn recall_for(&self, prompt: &str, scope: &TurnScope) -> Option<ContentBlock> {
        let recall = self.recall.as_ref()?;
        let query = RecallQuery {
            session: scope.session(),
            prompt,
        };
        let limit = recall.timeout();
        match tokio::time::timeout(limit, recall.recall(query)).await {
            Ok(Ok(memories)) => {
                tracing::debug!(memories = memories.len(), "long-term memories recalled");
                user_context(&memories)
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "recalling long-term memories failed; the turn goes on without them");
                None
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = limit.as_millis() as u64,
                    "recalling long-term memories took too long; the turn goes on without them"
                );
                None
            }
        }
    }

    /// One tool call, in its span and its context.
    async fn run_tool(&self, tool_use: &ToolUse, scope: &TurnScope) -> ToolResult {
        let span = GenAiSpan::tool(&self.telemetry, tool_use);
        let context = scope.for_call(tool_use.tool_use_id.clone());
        let result = span.around(self.tools.run(tool_use, &context)).await;
        span.end_tool(&self.telemetry, &result);
        result
    }

    /// One model call in its `chat` span, retries included.
    async fn call_model(
        &self,
        conversation: &mut Conversation,
        overflow: &mut Overflow,
        events: &mut dyn AgentEvents,
        context: Option<&ContentBlock>,
        forced: Option<&ToolSpec>,
    ) -> Result<ModelResponse, AgentError> {
        let span = GenAiSpan::chat(&self.telemetry);
        let started = tokio::time::Instant::now();
        let mut call = ModelCall::default();
        let outcome = span
            .around(self.call_model_with_retries(
                conversation,
                overflow,
                events,
                context,
                forced,
                &mut call,
            ))
            .await;
        let first_token = call.first_token.map(|at| at - started);
        let reported = outcome.as_ref().map_err(AgentError::kind);
        self.telemetry.record_chat(reported, started.elapsed());
        span.end_chat(reported, call.attempts, first_token);
        outcome
    }

    /// Model calls with timeout, and retries of transient failures — as long as nothing of the
    /// failed attempt has reached the client.
    async fn call_model_with_retries(
        &self,
        conversation: &mut Conversation,
        overflow: &mut Overflow,
        events: &mut dyn AgentEvents,
        context: Option<&ContentBlock>,
        forced: Option<&ToolSpec>,
        call: &mut ModelCall,
    ) -> Result<ModelResponse, AgentError> {
        let retry = self.config.retry;
        let mut attempt = 1;
        loop {
            call.attempts = attempt;
            let with_memories =
                context.map(|context| with_context(conversation.messages(), context));
            let tools = match forced {
                Some(spec) => std::sync::Arc::from([spec.clone()]),
                None => self.tools.specs(),
            };
            let request = ConverseRequest {
                system: &self.system_prompt,
                messages: with_memories.as_deref().unwrap_or(conversation.messages()),
                tools: &tools,
                inference: &self.inference,
                forced_tool: forced.map(|spec| spec.name.as_str()),
            };
            let mut delivered = false;
            let outcome = if self.config.model_streaming {
                self.stream_model(request, events, &mut delivered, call)
                    .await?
            } else {
                tokio::time::timeout(self.config.model_timeout, self.model.converse(request))
                    .await
                    .unwrap_or(Err(ModelError::Timeout(self.config.model_timeout)))
            };
            let error = match outcome {
                Ok(response) => return Ok(response),
                Err(ModelError::ContextOverflow { message }) => {
                    if overflow.trim(conversation) {
                        tracing::warn!(%message, "the conversation overflowed the model's context; retrying with its oldest turns trimmed");
                        continue;
                    }
                    return Err(AgentError::PromptTooLong { message });
                }
                Err(error) => error,
            };
            if delivered || !error.is_retryable() || attempt >= retry.max_attempts {
                return Err(give_up(error, attempt, &retry));
            }
            let delay = retry.delay_after(attempt);
            tracing::warn!(attempt, ?delay, %error, "model call failed; retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One streaming model call: passes text on as it comes, within the model timeout for the
    /// whole call and for every gap between events. The outer error is the client going away.
    async fn stream_model(
        &self,
        request: ConverseRequest<'_>,
        events: &mut dyn AgentEvents,
        delivered: &mut bool,
        call: &mut ModelCall,
    ) -> Result<Result<ModelResponse, ModelError>, AgentError> {
        let limit = self.config.model_timeout;
        let deadline = tokio::time::Instant::now() + limit;
        let mut stream = self.model.converse_stream(request);
        loop {
            let next = tokio::time::timeout_at(deadline, stream.next());
            let Ok(next) = next.await else {
                return Ok(Err(ModelError::Timeout(limit)));
            };
            match next {
                Some(Ok(ModelEvent::TextDelta(text))) => {
                    call.first_token
                        .get_or_insert_with(tokio::time::Instant::now);
                    send(events, AgentEvent::TextDelta(text)).await?;
                    *delivered |= events.delivers();
                }
                Some(Ok(ModelEvent::Completed(response))) => return Ok(Ok(response)),
                Some(Err(error)) => return Ok(Err(error)),
                None => {
                    return Ok(Err(ModelError::Malformed {
                        message: "the model's stream ended without a response".into(),
                    }));
                }
            }
        }
    }
}

/// What one model call's span reports: attempts made, and when the first text arrived.
#[derive(Default)]
struct ModelCall {
    attempts: u32,
    first_token: Option<tokio::time::Instant>,
}

/// Where an invocation's own messages begin, and whether its one trim on context overflow has
/// been spent (as Strands' conversation manager, it trims once, then gives up).
struct Overflow {
    turn_start: usize,
    trimmed: bool,
}

impl Overflow {
    /// Trims the oldest turns before the invocation's own; false when spent or nothing can go.
    fn trim(&mut self, conversation: &mut Conversation) -> bool {
        if self.trimmed {
            return false;
        }
        self.trimmed = true;
        let before = conversation.len();
        if !conversation.drop_oldest_turns(self.turn_start) {
            return false;
        }
        self.turn_start -= before - conversation.len();
        true
    }
}

/// Hands an event over; a reader that has gone stops the invocation.
async fn send(events: &mut dyn AgentEvents, event: AgentEvent) -> Result<(), AgentError> {
    events
        .send(event)
        .await
        .map_err(|Disconnected| AgentError::Disconnected)
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
