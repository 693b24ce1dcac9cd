//! Session expiry through the real router, on paused tokio time: 15 idle minutes end a session,
//! and its id then starts afresh.

use std::sync::Arc;
use std::time::Duration;

use agent_core::scripted::{ScriptedModel, text_response};
use agent_core::session::{MemorySessionStore, SessionConfig, SessionId, SessionKey, SessionOwner};
use agent_core::{AgentConfig, Message};
use agent_server::AgentCoreApp;
use agent_server::tutorial::TutorialEntrypoint;
use agent_tools::Clock;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn ask(router: &Router, session: &str) -> String {
    let request = Request::post("/invocations")
        .header("x-amzn-bedrock-agentcore-runtime-session-id", session)
        .body(Body::from(
            json!({"prompt": "hi", "user_id": "1"}).to_string(),
        ))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    value.as_str().unwrap().to_owned()
}

/// The tutorial's routes on a model that counts the messages it is sent, and their sessions.
fn tutorial_router() -> (Router, MemorySessionStore) {
    let model = ScriptedModel::new(|messages: &[Message]| {
        Ok(text_response(&format!("{} messages", messages.len())))
    });
    let store = MemorySessionStore::new(SessionConfig::default());
    let entrypoint = TutorialEntrypoint::with_model(
        Arc::new(model),
        Clock::Local,
        AgentConfig::default(),
        Arc::new(store.clone()),
    );
    (AgentCoreApp::new(entrypoint).router(), store)
}

async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_session_expires_and_its_id_starts_afresh() {
    let (router, store) = tutorial_router();
    let key = SessionKey::new(SessionOwner::user("1"), SessionId::parse("s").unwrap());

    assert_eq!(ask(&router, "s").await, "1 messages");
    tokio::time::advance(Duration::from_secs(14 * 60)).await;
    settle().await;
    assert_eq!(
        ask(&router, "s").await,
        "3 messages",
        "14 idle minutes keep it"
    );

    tokio::time::advance(Duration::from_secs(15 * 60 + 1)).await;
    settle().await;
    assert!(!store.contains(&key), "the reaper dropped it");
    assert_eq!(
        ask(&router, "s").await,
        "1 messages",
        "the same id is a fresh session"
    );
}

#[tokio::test(start_paused = true)]
async fn a_session_ends_eight_hours_after_creation_however_active() {
    let (router, _sessions) = tutorial_router();

    assert_eq!(ask(&router, "long").await, "1 messages");
    for _ in 0..47 {
        tokio::time::advance(Duration::from_secs(10 * 60)).await;
        settle().await;
        ask(&router, "long").await;
    }
    tokio::time::advance(Duration::from_secs(10 * 60)).await;
    settle().await;
    assert_eq!(ask(&router, "long").await, "1 messages");
}
