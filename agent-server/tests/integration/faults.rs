//! Faults between the server and Bedrock, with wiremock as Bedrock and the real AWS SDK client:
//! each fault gets its status and a clear message, and the next invocation on the same session
//! works and sends Bedrock an intact history.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{TestServer, test_agent_config};
use agent_core::bedrock::{BedrockModel, DEFAULT_MODEL_ID};
use agent_core::session::{MemorySessionStore, SessionConfig};
use agent_core::{
    Agent, ConverseRequest, Model, ModelError, ModelResponse, Tool, ToolContext, ToolError,
    ToolOutput, ToolSpec,
};
use agent_server::AgentCoreApp;
use agent_server::tutorial::TutorialEntrypoint;
use async_trait::async_trait;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Bedrock on wiremock: plays queued faults first, then answers `end_turn` with
/// "<n> messages" for a request of n messages.
#[derive(Clone, Default)]
struct Bedrock {
    faults: Arc<Mutex<VecDeque<ResponseTemplate>>>,
}

impl Bedrock {
    fn queue(&self, fault: ResponseTemplate, times: usize) {
        let mut faults = self.faults.lock().unwrap();
        faults.extend(std::iter::repeat_n(fault, times));
    }
}

impl Respond for Bedrock {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if let Some(fault) = self.faults.lock().unwrap().pop_front() {
            return fault;
        }
        ResponseTemplate::new(200)
            .set_body_json(end_turn(&format!("{} messages", message_count(request))))
    }
}

fn end_turn(text: &str) -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 10, "outputTokens": 3, "totalTokens": 13},
        "metrics": {"latencyMs": 5}
    })
}

fn message_count(request: &Request) -> usize {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    body["messages"].as_array().unwrap().len()
}

fn throttled() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("x-amzn-errortype", "ThrottlingException")
        .set_body_json(json!({"message": "Too many requests, please wait before trying again."}))
}

fn service_error(status: u16, kind: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-amzn-errortype", kind)
        .set_body_json(json!({"message": format!("{kind} from the stand-in")}))
}

struct Stack {
    bedrock: Bedrock,
    mock: MockServer,
    server: TestServer,
}

/// Bedrock on wiremock, and a client for it through the real AWS SDK.
async fn bedrock_stand_in() -> (Bedrock, MockServer, BedrockModel) {
    let bedrock = Bedrock::default();
    let mock = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(bedrock.clone())
        .mount(&mock)
        .await;
    let model = BedrockModel::for_local_endpoint(&mock.uri(), DEFAULT_MODEL_ID).await;
    (bedrock, mock, model)
}

async fn stack() -> Stack {
    let (bedrock, mock, model) = bedrock_stand_in().await;
    let server = TestServer::tutorial(Arc::new(model), SessionConfig::default()).await;
    Stack {
        bedrock,
        mock,
        server,
    }
}

impl Stack {
    async fn bedrock_calls(&self) -> usize {
        self.mock.received_requests().await.unwrap().len()
    }
}

#[tokio::test]
async fn throttled_twice_then_success_answers_with_the_right_history() {
    let stack = stack().await;
    assert_eq!(stack.server.ask("s", "1", "one").await.text(), "1 messages");
    stack.bedrock.queue(throttled(), 2);
    let reply = stack.server.ask("s", "1", "two").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "3 messages");
    assert_eq!(stack.bedrock_calls().await, 4, "1 + 2 throttled + 1");
    assert_eq!(
        stack.server.ask("s", "1", "three").await.text(),
        "5 messages"
    );
}

#[tokio::test]
async fn throttled_forever_answers_429_with_retry_after_after_the_configured_attempts() {
    let stack = stack().await;
    assert_eq!(stack.server.ask("s", "1", "one").await.status, 200);
    stack.bedrock.queue(throttled(), 3);
    let reply = stack.server.ask("s", "1", "two").await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("1"));
    let body = reply.json();
    assert_eq!(body["error"], "Model throttled");
    assert!(
        body["details"].as_str().unwrap().contains("3 attempts"),
        "{body}"
    );
    assert_eq!(
        stack.bedrock_calls().await,
        1 + 3,
        "exactly the configured attempts"
    );
    assert_eq!(
        stack.server.ask("s", "1", "three").await.text(),
        "3 messages",
        "history intact"
    );
}

#[tokio::test]
async fn bedrock_failures_answer_502_and_the_session_recovers() {
    let cases: Vec<(&str, ResponseTemplate, usize, &str)> = vec![
        ("500 every attempt", service_error(500, "InternalServerException"), 3, "InternalServerException"),
        ("503 every attempt", service_error(503, "ServiceUnavailableException"), 3, "ServiceUnavailableException"),
        ("malformed JSON", ResponseTemplate::new(200).set_body_raw("{\"output\": ", "application/json"), 1, "unreadable response body"),
        ("body without output", ResponseTemplate::new(200).set_body_json(json!({"stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}})), 1, "response has no output message"),
        ("access denied", service_error(403, "AccessDeniedException"), 1, "AccessDeniedException"),
    ];
    for (name, fault, attempts, says) in cases {
        let stack = stack().await;
        assert_eq!(stack.server.ask("s", "1", "one").await.text(), "1 messages");
        stack.bedrock.queue(fault, attempts);
        let reply = stack.server.ask("s", "1", "two").await;
        assert_eq!(reply.status, 502, "{name}");
        let body = reply.json();
        assert_eq!(body["error"], "Model error", "{name}");
        assert!(
            body["details"].as_str().unwrap().contains(says),
            "{name}: {body}"
        );
        assert_eq!(
            stack.bedrock_calls().await,
            1 + attempts,
            "{name}: attempts"
        );
        assert_eq!(
            stack.server.ask("s", "1", "three").await.text(),
            "3 messages",
            "{name}: history intact"
        );
    }
}

#[tokio::test]
async fn a_response_slower_than_the_model_timeout_answers_504() {
    let stack = stack().await;
    assert_eq!(stack.server.ask("s", "1", "one").await.text(), "1 messages");
    // The test agent's model timeout is 2 s.
    stack.bedrock.queue(
        ResponseTemplate::new(200)
            .set_body_json(end_turn("late"))
            .set_delay(Duration::from_secs(4)),
        1,
    );
    let reply = stack.server.ask("s", "1", "two").await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.json()["error"], "Model timeout");
    assert!(reply.json()["details"].as_str().unwrap().contains("2s"));
    assert_eq!(
        stack.server.ask("s", "1", "three").await.text(),
        "3 messages"
    );
}

/// Sends to a dead endpoint while `refuse` is set, to the live one otherwise.
struct Switch {
    refuse: AtomicBool,
    dead: BedrockModel,
    live: BedrockModel,
}

#[async_trait]
impl Model for Switch {
    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        if self.refuse.load(Ordering::SeqCst) {
            self.dead.converse(request).await
        } else {
            self.live.converse(request).await
        }
    }
}

impl std::fmt::Display for Switch {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "switch".into() };
        formatter.write_str(&text)
    }
}

#[tokio::test]
async fn a_refused_connection_answers_502_and_the_session_recovers() {
    let stack = stack().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_address = closed.local_addr().unwrap();
    drop(closed);
    let switch = Arc::new(Switch {
        refuse: AtomicBool::new(false),
        dead: BedrockModel::for_local_endpoint(&format!("http://{dead_address}"), DEFAULT_MODEL_ID)
            .await,
        live: BedrockModel::for_local_endpoint(&stack.mock.uri(), DEFAULT_MODEL_ID).await,
    });
    let server = TestServer::tutorial(switch.clone(), SessionConfig::default()).await;
    assert_eq!(server.ask("s", "1", "one").await.text(), "1 messages");
    switch.refuse.store(true, Ordering::SeqCst);
    let reply = server.ask("s", "1", "two").await;
    assert_eq!(reply.status, 502);
    let details = reply.json()["details"].as_str().unwrap().to_owned();
    assert!(
        details.starts_with("could not reach the model service"),
        "{details}"
    );
    switch.refuse.store(false, Ordering::SeqCst);
    assert_eq!(server.ask("s", "1", "three").await.text(), "3 messages");
}

/// A tool that panics or fails on request.
struct Fragile;

#[async_trait]
impl Tool for Fragile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "fragile".into(),
            description: "breaks".into(),
            input_schema: json!({"type": "object", "properties": {"mode": {"type": "string"}}, "required": ["mode"]}),
        }
    }

    async fn call(&self, input: Value, _context: &ToolContext) -> Result<ToolOutput, ToolError> {
        match input["mode"].as_str() {
            Some("panic") => panic!("the fragile tool broke"),
            _ => Err(ToolError::new("the fragile tool refused")),
        }
    }
}

#[tokio::test]
async fn a_panicking_or_failing_tool_becomes_an_error_result_and_the_server_survives() {
    let (bedrock, mock, model) = bedrock_stand_in().await;
    let agent = Agent::builder(Arc::new(model))
        .tool(Arc::new(Fragile))
        .unwrap()
        .config(test_agent_config())
        .build();
    let app = AgentCoreApp::new(TutorialEntrypoint::tutorial(
        agent,
        Arc::new(MemorySessionStore::new(SessionConfig::default())),
    ));
    let server = TestServer::start(app).await;

    let tool_use = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "t-panic", "name": "fragile", "input": {"mode": "panic"}}},
            {"toolUse": {"toolUseId": "t-fail", "name": "fragile", "input": {"mode": "fail"}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
    });
    bedrock.queue(ResponseTemplate::new(200).set_body_json(tool_use), 1);
    let reply = server.ask("s", "1", "break it").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "3 messages");

    let requests = mock.received_requests().await.unwrap();
    let second: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(
        second["messages"][2]["content"],
        json!([
            {"toolResult": {"toolUseId": "t-panic", "status": "error",
                            "content": [{"text": "Tool `fragile` failed unexpectedly."}]}},
            {"toolResult": {"toolUseId": "t-fail", "status": "error",
                            "content": [{"text": "Error: the fragile tool refused"}]}}
        ])
    );
    assert_eq!(
        server.ask("s", "1", "again").await.text(),
        "5 messages",
        "still serving"
    );
}
