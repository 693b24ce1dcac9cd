//! The tutorial's agent: three tools, a system prompt that asks it to confirm the user's name,
//! and a payload `{"prompt", "user_id"}` whose user's name personalises the prompt.
//!
//! It is an [`AgentEntrypoint`] with the tutorial's [`TutorialPayload`] reader: unlike the
//! reference's single global agent, the definition is shared and immutable and each runtime
//! session owns its own conversation, so sessions served by one process cannot see each other.
//! Sessions belong to the payload's `user_id`: the same session id sent by another user is
//! another, fresh session. With inbound auth on they belong to the verified user, and a
//! `user_id` naming anyone else is refused (403).

use std::sync::Arc;

use agent_core::session::{SessionId, SessionKey, SessionOwner, SessionStore};
use agent_core::{Agent, AgentBuilder, AgentConfig, Model};
use agent_tools::{Clock, tutorial_tools};
use serde_json::Value;

use crate::context::RuntimeContext;
use crate::entrypoint::agent::{AgentEntrypoint, AgentRequest, PayloadReader, prompt_field};
use crate::error::InvocationError;

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
    tutorial_agent_builder(model, clock, config).build()
}

/// The tutorial agent's definition around `model`, to add to (long-term memory) before building.
pub fn tutorial_agent_builder(
    model: Arc<dyn Model>,
    clock: Clock,
    config: AgentConfig,
) -> AgentBuilder {
    let mut builder = Agent::builder(model)
        .name("tutorial")
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
    builder
}

/// A validated tutorial payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TutorialRequest {
    /// The user's prompt, inside the tutorial's template.
    pub prompt: String,
    /// The payload's `user_id`.
    pub user_id: &'static str,
    /// That user's name from the tutorial's table.
    pub user_name: &'static str,
}

impl TutorialRequest {
    /// Reads `{"prompt": string, "user_id": "1".."5"}`, saying exactly what is wrong otherwise.
    pub fn from_payload(payload: &Value) -> Result<Self, InvocationError> {
        let invalid = |details: String| InvocationError::InvalidPayload(details);
        let prompt = prompt_field(payload, "{\"prompt\": \"…\", \"user_id\": \"1\"}")?;
        let (user_id, user_name) = match payload.get("user_id") {
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

impl TutorialRequest {
    /// Reads `{"prompt": string, "user_id"?: string}` for a caller whose token proved it is
    /// `user`: a `user_id` may be left out (the verified user is meant) and must otherwise name
    /// that same user (403); the user must be one of the tutorial's (403).
    pub fn for_verified_user(payload: &Value, user: &str) -> Result<Self, InvocationError> {
        let prompt = prompt_field(payload, "{\"prompt\": \"…\"}")?;
        match payload.get("user_id") {
            None => {}
            Some(Value::String(named)) if named == user => {}
            Some(Value::String(_)) => {
                return Err(InvocationError::Forbidden(
                    "the payload's user_id names another user than the verified token".into(),
                ));
            }
            Some(_) => {
                return Err(InvocationError::InvalidPayload(format!(
                    "\"user_id\" must be a string such as \"1\"; {}",
                    known_users()
                )));
            }
        }
        let (user_id, user_name) = find_user(user).ok_or_else(|| {
            InvocationError::Forbidden(format!(
                "the verified user \"{user}\" is not one of the tutorial's users; {}",
                known_users()
            ))
        })?;
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

/// The tutorial's payload reader: the user table and the reference's prompt template.
#[derive(Debug, Clone, Copy, Default)]
pub struct TutorialPayload;

impl PayloadReader for TutorialPayload {
    fn read(
        &self,
        payload: &Value,
        context: &RuntimeContext,
    ) -> Result<AgentRequest, InvocationError> {
        let request = match &context.caller {
            Some(caller) => TutorialRequest::for_verified_user(payload, caller.user())?,
            None => TutorialRequest::from_payload(payload)?,
        };
        Ok(AgentRequest {
            prompt: personalised_prompt(request.user_name, &request.prompt, &context.session_id),
            session: SessionKey::new(
                SessionOwner::user(request.user_id),
                context.session_id.clone(),
            ),
        })
    }
}

/// The tutorial entrypoint: one conversation per runtime session.
pub type TutorialEntrypoint = AgentEntrypoint<TutorialPayload>;

impl AgentEntrypoint<TutorialPayload> {
    /// The tutorial agent around `model`, keeping its sessions in `sessions`.
    pub fn with_model(
        model: Arc<dyn Model>,
        clock: Clock,
        agent: AgentConfig,
        sessions: Arc<dyn SessionStore>,
    ) -> Self {
        Self::tutorial(tutorial_agent(model, clock, agent), sessions)
    }

    /// Serves `agent` on the tutorial's payloads, with per-session state in `sessions`.
    pub fn tutorial(agent: Agent, sessions: Arc<dyn SessionStore>) -> Self {
        Self::with_reader(agent, sessions, TutorialPayload)
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
