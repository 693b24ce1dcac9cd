//! Any [`Agent`] as an entrypoint, with one conversation per runtime session.
//!
//! The definition (model, tools, system prompt) is shared and immutable; each session's history
//! lives in a [`SessionStore`] and is checked out for one invocation at a time, so sessions
//! served by one process cannot see each other and a failed invocation changes nothing. What
//! differs between agents is only how a payload becomes a prompt and which session it belongs
//! to: a [`PayloadReader`]. [`PromptPayload`] reads `{"prompt": string}`; the tutorial's reader
//! adds its user table and prompt template.
//!
//! ```no_run
//! use std::sync::Arc;
//! use agent_core::Agent;
//! use agent_core::bedrock::BedrockModel;
//! use agent_core::session::{MemorySessionStore, SessionConfig};
//! use agent_server::{AgentCoreApp, AgentEntrypoint, shutdown_signal};
//!
//! # async fn run() -> std::io::Result<()> {
//! let model = BedrockModel::from_env("us.anthropic.claude-sonnet-4-20250514-v1:0").await;
//! let agent = Agent::builder(Arc::new(model)).system_prompt("Answer in one sentence.").build();
//! let sessions = Arc::new(MemorySessionStore::new(SessionConfig::default()));
//! let app = AgentCoreApp::new(AgentEntrypoint::new(agent, sessions));
//! app.serve(tokio::net::TcpListener::bind("0.0.0.0:8080").await?, shutdown_signal()).await
//! # }
//! ```

use std::sync::Arc;

use agent_core::session::{SessionKey, SessionOwner, SessionStore, SessionTurn};
use agent_core::{Agent, AgentEvents, AgentReply, NoEvents};
use async_trait::async_trait;
use serde_json::Value;

use super::stream_events::result_value;
use super::streamed::spawn_streamed;
use super::{Entrypoint, Output};
use crate::context::RuntimeContext;
use crate::error::InvocationError;
use crate::observability::trace_context;

/// What an invocation asks of the agent: the prompt, in which session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRequest {
    /// The session the turn works on, owner included.
    pub session: SessionKey,
    /// The prompt for the model.
    pub prompt: String,
}

/// Reads an agent's payload. Errors are the client's (`InvalidPayload`, 400) and are answered
/// before any session is touched.
pub trait PayloadReader: Send + Sync + 'static {
    /// The turn `payload` asks for, in `context`.
    fn read(
        &self,
        payload: &Value,
        context: &RuntimeContext,
    ) -> Result<AgentRequest, InvocationError>;
}

/// `{"prompt": string}`, other fields ignored; the session is the context's (owned by the runtime
/// user id when one is sent).
#[derive(Debug, Clone, Copy, Default)]
pub struct PromptPayload;

impl PayloadReader for PromptPayload {
    fn read(
        &self,
        payload: &Value,
        context: &RuntimeContext,
    ) -> Result<AgentRequest, InvocationError> {
        Ok(AgentRequest {
            session: context.session_key(),
            prompt: prompt_field(payload, "{\"prompt\": \"…\"}")?,
        })
    }
}

/// The payload's `"prompt"`: a string with some text. `example` shows the payload's shape in
/// the error for a payload that is not an object.
pub fn prompt_field(payload: &Value, example: &str) -> Result<String, InvocationError> {
    let invalid = |details: String| InvocationError::InvalidPayload(details);
    let Some(fields) = payload.as_object() else {
        return Err(invalid(format!(
            "the payload must be a JSON object such as {example}"
        )));
    };
    match fields.get("prompt") {
        None => Err(invalid("\"prompt\" is required".into())),
        Some(Value::String(prompt)) if prompt.trim().is_empty() => {
            Err(invalid("\"prompt\" must not be empty".into()))
        }
        Some(Value::String(prompt)) => Ok(prompt.clone()),
        Some(_) => Err(invalid("\"prompt\" must be a string".into())),
    }
}

/// An agent served with one conversation per runtime session.
pub struct AgentEntrypoint<R = PromptPayload> {
    agent: Arc<Agent>,
    sessions: Arc<dyn SessionStore>,
    reader: R,
}

impl<R: Clone> Clone for AgentEntrypoint<R> {
    fn clone(&self) -> Self {
        Self {
            agent: self.agent.clone(),
            sessions: self.sessions.clone(),
            reader: self.reader.clone(),
        }
    }
}

impl AgentEntrypoint<PromptPayload> {
    /// Serves `agent` on `{"prompt": string}` payloads, its sessions in `sessions`.
    pub fn new(agent: Agent, sessions: Arc<dyn SessionStore>) -> Self {
        Self::with_reader(agent, sessions, PromptPayload)
    }
}

impl<R: PayloadReader> AgentEntrypoint<R> {
    /// Serves `agent` on the payloads `reader` reads.
    pub fn with_reader(agent: Agent, sessions: Arc<dyn SessionStore>, reader: R) -> Self {
        Self {
            agent: Arc::new(agent),
            sessions,
            reader,
        }
    }

    /// Where its sessions are kept.
    pub fn sessions(&self) -> &Arc<dyn SessionStore> {
        &self.sessions
    }

    /// Reads the payload and takes the session's turn: bad input never creates or changes a
    /// session, and a busy or unreachable session store answers before any stream starts.
    async fn begin(
        &self,
        payload: &Value,
        context: RuntimeContext,
    ) -> Result<(SessionTurn, AgentRequest), InvocationError> {
        let request = self.reader.read(payload, &context)?;
        // Whatever a reader makes of the payload, a verified caller reaches its own sessions only.
        if let Some(caller) = &context.caller
            && request.session.owner != SessionOwner::user(caller.user())
        {
            return Err(InvocationError::Forbidden(
                "the session the payload names belongs to another user than the verified token"
                    .into(),
            ));
        }
        let mut turn = self.sessions.checkout(&request.session).await?;
        turn.set_request(context.into_request_info());
        Ok((turn, request))
    }
}

/// Answers `prompt` in `turn`, reporting to `events`; keeps the exchange only if it succeeded.
/// Runs in the agent's `invoke_agent` span, a child of the request's span with the session and
/// its user added to the baggage every span under it carries.
async fn run_turn(
    agent: &Agent,
    mut turn: SessionTurn,
    request: &AgentRequest,
    events: &mut dyn AgentEvents,
) -> Result<AgentReply, InvocationError> {
    let prompt = request.prompt.as_str();
    let user = match &request.session.owner {
        SessionOwner::User(user) => Some(user.as_ref()),
        SessionOwner::Anonymous => None,
    };
    let span = trace_context::in_session(request.session.id.as_str(), user, || {
        agent.invocation_span(prompt)
    });
    let outcome = span
        .around(async {
            match agent.invoke_streaming_in(&mut turn, prompt, events).await {
                Ok(reply) => {
                    turn.commit().await?;
                    Ok(reply)
                }
                Err(error) => {
                    turn.release().await;
                    Err(InvocationError::from(error))
                }
            }
        })
        .await;
    span.end(outcome.as_ref().map_err(InvocationError::kind));
    outcome
}

#[async_trait]
impl<R: PayloadReader> Entrypoint for AgentEntrypoint<R> {
    async fn invoke(
        &self,
        payload: Value,
        context: RuntimeContext,
    ) -> Result<Output, InvocationError> {
        let (turn, request) = self.begin(&payload, context).await?;
        let reply = run_turn(&self.agent, turn, &request, &mut NoEvents).await?;
        Ok(Output::Value(Value::String(reply.text)))
    }

    async fn invoke_streaming(
        &self,
        payload: Value,
        context: RuntimeContext,
    ) -> Result<Output, InvocationError> {
        let (turn, request) = self.begin(&payload, context).await?;
        let agent = self.agent.clone();
        Ok(spawn_streamed(move |mut events| async move {
            let reply = run_turn(&agent, turn, &request, &mut events).await?;
            Ok(result_value(&reply))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_core::session::SessionId;
    use serde_json::json;

    #[test]
    fn a_prompt_payload_is_the_prompt_in_the_runtime_users_session() {
        let mut context = RuntimeContext::for_session(SessionId::parse("s-1").unwrap());
        context.user_id = Some("alice".into());
        let request = PromptPayload
            .read(&json!({"prompt": "hi", "ignored": 1}), &context)
            .unwrap();
        assert_eq!(request.prompt, "hi");
        assert_eq!(request.session.owner, SessionOwner::user("alice"));
        for (payload, expected) in [
            (json!("hi"), "must be a JSON object such as {\"prompt\""),
            (json!({}), "\"prompt\" is required"),
            (json!({"prompt": 1}), "\"prompt\" must be a string"),
            (json!({"prompt": "  "}), "\"prompt\" must not be empty"),
        ] {
            let error = PromptPayload.read(&payload, &context).unwrap_err();
            assert!(error.to_string().contains(expected), "{payload}: {error}");
        }
    }
}
