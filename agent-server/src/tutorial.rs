//! The tutorial's agent: three tools, a system prompt that asks it to confirm the user's name,
//! and an entrypoint that reads `{"prompt", "user_id"}` and personalises the prompt.
//!
//! Unlike the reference's single global agent, the definition here is shared and immutable and
//! each runtime session owns its own conversation in a [`SessionStore`], so sessions served by
//! one process cannot see each other. Sessions belong to the payload's `user_id`: the same session
//! id sent by another user is another, fresh session.

use std::sync::Arc;

use agent_core::{
    Agent, AgentConfig, AgentEvents, AgentReply, Model, NoEvents, RuntimeContext, SessionId,
    SessionKey, SessionOwner, SessionStore, SessionTurn,
};
use agent_tools::{Clock, tutorial_tools};
use async_trait::async_trait;
use serde_json::Value;

use crate::entrypoint::{Entrypoint, Output};
use crate::error::InvocationError;
use crate::stream_events::result_value;
use crate::streamed::spawn_streamed;

/// The reference agent's system prompt, verbatim.
pub const SYSTEM_PROMPT: &str = "\n    あなたは役立つアシスタントです。簡単な計算ができ、\n    天気を伝え、現在の時刻を提供することができます。\n    常にユーザーの名前を確認することから始めてください\n    ";

/// The tutorial's users by id.
pub const USERS: [(&str, &str); 5] = [
    ("1", "Maira"),
    ("2", "Mani"),
    ("3", "Mark"),
    ("4", "Ishan"),
    ("5", "Dhawal"),
];

/// The user's name for a tutorial user id.
pub fn user_name(user_id: &str) -> Option<&'static str> {
    find_user(user_id).map(|(_, name)| name)
}

fn find_user(user_id: &str) -> Option<(&'static str, &'static str)> {
    USERS.iter().copied().find(|(id, _)| *id == user_id)
}

/// The prompt the reference builds: the user's name, the request and the runtime session id.
pub fn personalised_prompt(name: &str, prompt: &str, session_id: &SessionId) -> String {
    format!(
        "私の名前は {name} です。こちらが私のリクエストです: {prompt}\n    \n    追加の文脈: これはセッション {session_id} です。\n    私の名前を確認して、サポートを提供してください。"
    )
}

/// The tutorial agent's definition around `model`.
pub fn tutorial_agent(model: Arc<dyn Model>, clock: Clock, config: AgentConfig) -> Agent {
    let mut builder = Agent::builder(model)
        .system_prompt(SYSTEM_PROMPT)
        .config(config);
    for tool in tutorial_tools(clock) {
        builder = match builder.tool(tool) {
            Ok(builder) => builder,
            Err(error) => {
                unreachable!("the tutorial's tools have distinct names and valid schemas: {error}")
            }
        };
    }
    builder.build()
}

/// A validated tutorial payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TutorialRequest {
    pub prompt: String,
    pub user_id: &'static str,
    pub user_name: &'static str,
}

impl TutorialRequest {
    /// Reads `{"prompt": string, "user_id": "1".."5"}`, saying exactly what is wrong otherwise.
    pub fn from_payload(payload: &Value) -> Result<Self, InvocationError> {
        let invalid = |details: String| InvocationError::InvalidPayload(details);
        let Some(fields) = payload.as_object() else {
            return Err(invalid(
                "the payload must be a JSON object such as {\"prompt\": \"…\", \"user_id\": \"1\"}"
                    .into(),
            ));
        };
        let prompt = match fields.get("prompt") {
            None => return Err(invalid("\"prompt\" is required".into())),
            Some(Value::String(prompt)) if prompt.trim().is_empty() => {
                return Err(invalid("\"prompt\" must not be empty".into()));
            }
            Some(Value::String(prompt)) => prompt.clone(),
            Some(_) => return Err(invalid("\"prompt\" must be a string".into())),
        };
        let (user_id, user_name) = match fields.get("user_id") {
            None => {
                return Err(invalid(format!(
                    "\"user_id\" is required; {}",
                    known_users()
                )));
            }
            Some(Value::String(id)) => find_user(id)
                .ok_or_else(|| invalid(format!("unknown user_id \"{id}\"; {}", known_users())))?,
            Some(_) => {
                return Err(invalid(format!(
                    "\"user_id\" must be a string such as \"1\"; {}",
                    known_users()
                )));
            }
        };
        Ok(Self {
            prompt,
            user_id,
            user_name,
        })
    }
}

fn known_users() -> String {
    let users: Vec<String> = USERS
        .iter()
        .map(|(id, name)| format!("\"{id}\" ({name})"))
        .collect();
    format!("known user ids: {}", users.join(", "))
}

/// The tutorial entrypoint: one conversation per runtime session.
#[derive(Clone)]
pub struct TutorialEntrypoint {
    agent: Arc<Agent>,
    sessions: Arc<dyn SessionStore>,
}

impl TutorialEntrypoint {
    /// The tutorial agent around `model`, keeping its sessions in `sessions`.
    pub fn with_model(
        model: Arc<dyn Model>,
        clock: Clock,
        agent: AgentConfig,
        sessions: Arc<dyn SessionStore>,
    ) -> Self {
        Self::new(tutorial_agent(model, clock, agent), sessions)
    }

    /// Serves `agent` with per-session state in `sessions`.
    pub fn new(agent: Agent, sessions: Arc<dyn SessionStore>) -> Self {
        Self {
            agent: Arc::new(agent),
            sessions,
        }
    }

    /// Where its sessions are kept.
    pub fn sessions(&self) -> &Arc<dyn SessionStore> {
        &self.sessions
    }
}

impl TutorialEntrypoint {
    /// Validates the payload and takes the session's turn: bad input never creates or changes a
    /// session, and a busy or unreachable session store answers before any stream starts.
    async fn begin(
        &self,
        payload: &Value,
        context: RuntimeContext,
    ) -> Result<(SessionTurn, String), InvocationError> {
        let request = TutorialRequest::from_payload(payload)?;
        let prompt = personalised_prompt(request.user_name, &request.prompt, &context.session_id);
        let key = SessionKey::new(SessionOwner::user(request.user_id), context.session_id);
        let turn = self.sessions.checkout(&key).await?;
        Ok((turn, prompt))
    }
}

/// Answers `prompt` in `turn`, reporting to `events`; keeps the exchange only if it succeeded.
async fn run_turn(
    agent: &Agent,
    mut turn: SessionTurn,
    prompt: &str,
    events: &mut dyn AgentEvents,
) -> Result<AgentReply, InvocationError> {
    match agent.invoke_streaming_in(&mut turn, prompt, events).await {
        Ok(reply) => {
            turn.commit().await?;
            Ok(reply)
        }
        Err(error) => {
            turn.release().await;
            Err(error.into())
        }
    }
}

#[async_trait]
impl Entrypoint for TutorialEntrypoint {
    async fn invoke(
        &self,
        payload: Value,
        context: RuntimeContext,
    ) -> Result<Output, InvocationError> {
        let (turn, prompt) = self.begin(&payload, context).await?;
        let reply = run_turn(&self.agent, turn, &prompt, &mut NoEvents).await?;
        Ok(Output::Value(Value::String(reply.text)))
    }

    async fn invoke_streaming(
        &self,
        payload: Value,
        context: RuntimeContext,
    ) -> Result<Output, InvocationError> {
        let (turn, prompt) = self.begin(&payload, context).await?;
        let agent = self.agent.clone();
        Ok(spawn_streamed(move |mut events| async move {
            let reply = run_turn(&agent, turn, &prompt, &mut events).await?;
            Ok(result_value(&reply))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_the_reference_prompt() {
        let id = SessionId::parse("41576c58-9880-4114-aa04-f718482054f8").unwrap();
        assert_eq!(
            personalised_prompt("Maira", "外の天気はどうですか?", &id),
            "私の名前は Maira です。こちらが私のリクエストです: 外の天気はどうですか?\n    \n    追加の文脈: これはセッション 41576c58-9880-4114-aa04-f718482054f8 です。\n    私の名前を確認して、サポートを提供してください。"
        );
    }

    #[test]
    fn reads_valid_payloads() {
        let request =
            TutorialRequest::from_payload(&json!({"prompt": "hi", "user_id": "2"})).unwrap();
        assert_eq!(request.user_name, "Mani");
        assert_eq!(request.user_id, "2");
        assert_eq!(request.prompt, "hi");
    }

    #[test]
    fn explains_invalid_payloads() {
        let cases = [
            (json!([1]), "must be a JSON object"),
            (json!({"user_id": "1"}), "\"prompt\" is required"),
            (
                json!({"prompt": 5, "user_id": "1"}),
                "\"prompt\" must be a string",
            ),
            (
                json!({"prompt": " ", "user_id": "1"}),
                "\"prompt\" must not be empty",
            ),
            (
                json!({"prompt": "hi"}),
                "\"user_id\" is required; known user ids: \"1\" (Maira)",
            ),
            (
                json!({"prompt": "hi", "user_id": 1}),
                "\"user_id\" must be a string",
            ),
            (
                json!({"prompt": "hi", "user_id": "99"}),
                "unknown user_id \"99\"",
            ),
        ];
        for (payload, expected) in cases {
            let error = TutorialRequest::from_payload(&payload).unwrap_err();
            assert!(error.to_string().contains(expected), "{payload}: {error}");
        }
    }
}
