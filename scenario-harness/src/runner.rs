//! Drives a script over HTTP against any AgentCore-contract server, as the tutorial's client does:
//! one new session id per scripted session, sent in the session header with every invocation.

use agent_server::SESSION_ID_HEADER;
use agent_server::tutorial::user_name;
use anyhow::Context;
use serde_json::{Value, json};

use crate::script::{Script, SessionScript, Step};

/// What happened at one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    pub session_label: String,
    pub session_id: String,
    pub user_id: String,
    /// Position of the step in its session, from 1.
    pub step: usize,
    /// True for the first invocation of a session.
    pub new_session: bool,
    pub prompt: String,
    pub status: u16,
    /// The answer text when the body is a JSON string, else the body as it came.
    pub answer: String,
    /// Why the answer does not meet the script, empty when it does.
    pub problems: Vec<String>,
}

impl StepOutcome {
    /// The tutorial's name for the user, when it is one of its users.
    pub fn user_name(&self) -> Option<&'static str> {
        user_name(&self.user_id)
    }

    /// True when the step answered 200 as the script expects.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Runs every step of `script` against `base_url`, calling `before_step` ahead of each one.
pub async fn drive(
    base_url: &str,
    script: &Script,
    mut before_step: impl FnMut(&SessionScript, &Step),
) -> anyhow::Result<Vec<StepOutcome>> {
    let client = reqwest::Client::new();
    let url = format!("{}/invocations", base_url.trim_end_matches('/'));
    let mut outcomes = Vec::with_capacity(script.step_count());
    for session in &script.sessions {
        let session_id = uuid::Uuid::new_v4().to_string();
        for (index, step) in session.steps.iter().enumerate() {
            before_step(session, step);
            let response = client
                .post(&url)
                .header(SESSION_ID_HEADER, &session_id)
                .json(&json!({"prompt": step.prompt, "user_id": session.user_id}))
                .send()
                .await
                .with_context(|| format!("invoking {url}"))?;
            let status = response.status().as_u16();
            let body = response.bytes().await.context("reading the response")?;
            let answer = match serde_json::from_slice::<Value>(&body) {
                Ok(Value::String(text)) => text,
                _ => String::from_utf8_lossy(&body).into_owned(),
            };
            let mut problems = step.expect.problems(&answer);
            if status != 200 {
                problems.insert(0, format!("answered {status}, expected 200"));
            }
            outcomes.push(StepOutcome {
                session_label: session.label.clone(),
                session_id: session_id.clone(),
                user_id: session.user_id.clone(),
                step: index + 1,
                new_session: index == 0,
                prompt: step.prompt.clone(),
                status,
                answer,
                problems,
            });
        }
    }
    Ok(outcomes)
}
