//! Session state over the contract, in memory and in a real Redis: a tool counts in it, and the
//! count is stored with the turn — not after a model error, past the deadline, or when a
//! streaming client goes away — and a Redis session stored before the state existed is
//! continued with its history.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{TestServer, sse_values, test_agent_config};
use agent_core::scripted::{text_response, tool_use_response};
use agent_core::session::{
    MemorySessionStore, SessionConfig, SessionId, SessionKey, SessionOwner, SessionStore,
};
use agent_core::{
    Agent, AgentConfig, ConverseRequest, Message, Model, ModelError, ModelResponse, Tool,
    ToolContext, ToolError, ToolOutput, ToolSpec,
};
use agent_server::{AgentEntrypoint, SESSION_ID_HEADER, USER_ID_HEADER};
use agent_testkit::RedisServer;
use async_trait::async_trait;
use serde_json::{Value, json};

/// Counts its calls in the session state.
struct Counter;

#[async_trait]
impl Tool for Counter {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "counter".into(),
            description: "counts".into(),
            input_schema: json!({"type": "object"}),
        }
    }

    async fn call(&self, _: Value, context: &ToolContext) -> Result<ToolOutput, ToolError> {
        let count = context.update_state(|state| {
            let count = state.get("count").and_then(Value::as_u64).unwrap_or(0) + 1;
            state.set("count", count).map(|()| count)
        })?;
        Ok(ToolOutput::text(count.to_string()))
    }
}

/// Asks for the counter, then: answers; fails (`fail` in the prompt); or takes a minute
/// (`slow`).
struct CountingModel;

#[async_trait]
impl Model for CountingModel {
    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        let last = request.messages.last().expect("a request has messages");
        if last.tool_results().next().is_none() {
            let id = format!("tooluse_{}", request.messages.len());
            return Ok(tool_use_response(&[(&id, "counter", json!({}))]));
        }
        let prompt = request
            .messages
            .iter()
            .rev()
            .find(|message| message.starts_turn())
            .map(Message::text)
            .unwrap_or_default();
        if prompt.contains("fail") {
            return Err(ModelError::Rejected {
                message: "asked to fail".into(),
            });
        }
        if prompt.contains("slow") {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Ok(text_response("counted"))
    }
}

impl std::fmt::Display for CountingModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "counting".into() };
        formatter.write_str(&text)
    }
}

async fn counting_server(store: Arc<dyn SessionStore>) -> TestServer {
    let config = AgentConfig {
        invocation_timeout: Duration::from_secs(2),
        ..test_agent_config()
    };
    let agent = Agent::builder(Arc::new(CountingModel))
        .tool(Arc::new(Counter))
        .unwrap()
        .config(config)
        .build();
    TestServer::agent_on(AgentEntrypoint::new(agent, store.clone()), store).await
}

fn key(user: &str, session: &str) -> SessionKey {
    SessionKey::new(SessionOwner::user(user), SessionId::parse(session).unwrap())
}

async fn count(server: &TestServer, user: &str, session: &str) -> Option<Value> {
    let state = server
        .sessions
        .as_ref()
        .unwrap()
        .state(&key(user, session))
        .await
        .unwrap()?;
    state.get("count").cloned()
}

async fn ask(server: &TestServer, user: &str, session: &str, prompt: &str) -> u16 {
    let response = server
        .client
        .post(server.url("/invocations"))
        .header(SESSION_ID_HEADER, session)
        .header(USER_ID_HEADER, user)
        .json(&json!({ "prompt": prompt }))
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// The whole story on one store: counted with each turn, and not counted when a turn fails.
async fn state_belongs_to_the_turn(store: Arc<dyn SessionStore>) {
    let server = counting_server(store).await;
    assert_eq!(ask(&server, "maira", "s-1", "count").await, 200);
    assert_eq!(ask(&server, "maira", "s-1", "count").await, 200);
    assert_eq!(count(&server, "maira", "s-1").await, Some(json!(2)));

    assert_eq!(ask(&server, "maira", "s-1", "count, then fail").await, 502);
    assert_eq!(
        count(&server, "maira", "s-1").await,
        Some(json!(2)),
        "model error"
    );
    assert_eq!(ask(&server, "maira", "s-1", "count, slow").await, 504);
    assert_eq!(
        count(&server, "maira", "s-1").await,
        Some(json!(2)),
        "deadline"
    );

    // A streaming client that leaves once the tool has counted.
    let mut response = server
        .client
        .post(server.url("/invocations"))
        .header(SESSION_ID_HEADER, "s-1")
        .header(USER_ID_HEADER, "maira")
        .header("accept", "text/event-stream")
        .json(&json!({ "prompt": "count, slow" }))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("tool_result") {
        let chunk = response
            .chunk()
            .await
            .unwrap()
            .expect("the stream ended early");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        sse_values(&seen)
            .iter()
            .any(|event| event["tool_result"]["content"][0]["text"] == "3"),
        "{seen}"
    );
    drop(response);
    // Nothing to wait on but the server noticing; bounded, and the outcome is not timed.
    for _ in 0..400 {
        if server.ping_status().await == "Healthy" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        count(&server, "maira", "s-1").await,
        Some(json!(2)),
        "client gone"
    );

    assert_eq!(ask(&server, "maira", "s-1", "count").await, 200);
    assert_eq!(count(&server, "maira", "s-1").await, Some(json!(3)));
    assert_eq!(
        count(&server, "mani", "s-1").await,
        None,
        "another user's session"
    );
}

#[tokio::test]
async fn state_belongs_to_the_turn_in_memory() {
    state_belongs_to_the_turn(Arc::new(MemorySessionStore::new(SessionConfig::default()))).await;
}

#[tokio::test]
async fn state_belongs_to_the_turn_in_redis() {
    let redis = RedisServer::start();
    state_belongs_to_the_turn(Arc::new(redis.store())).await;
}

#[tokio::test]
async fn a_redis_session_stored_before_the_state_is_continued() {
    let redis = RedisServer::start();
    let mut connection = redis.connection();
    let history: Vec<String> = [Message::user("hello"), Message::assistant("hi")]
        .iter()
        .map(|message| serde_json::to_string(message).unwrap())
        .collect();
    let tag = "{user=maira:old-session}";
    redis::cmd("HSET")
        .arg(format!("agentcore:session:{tag}"))
        .arg("format")
        .arg("1")
        .arg("created_ms")
        .arg(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
        )
        .exec(&mut connection)
        .unwrap();
    redis::cmd("RPUSH")
        .arg(format!("agentcore:history:{tag}"))
        .arg(&history)
        .exec(&mut connection)
        .unwrap();

    let server = counting_server(Arc::new(redis.store())).await;
    assert_eq!(ask(&server, "maira", "old-session", "count").await, 200);
    assert_eq!(count(&server, "maira", "old-session").await, Some(json!(1)));
    let stored = server
        .sessions
        .as_ref()
        .unwrap()
        .history(&key("maira", "old-session"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.messages()[0], Message::user("hello"));
    assert_eq!(
        stored.len(),
        6,
        "the old turn, then the new one with its tool round"
    );
    let format: String = redis::cmd("HGET")
        .arg(format!("agentcore:session:{tag}"))
        .arg("format")
        .query(&mut connection)
        .unwrap();
    assert_eq!(format, "2");
}
