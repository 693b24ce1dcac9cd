//! Helpers shared by the server's integration tests: the tutorial served on a loopback port
//! (through `agent_testkit::LocalServer`) with a client for it, a model that holds its calls,
//! and reading what a response carries.

pub(crate) mod otlp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agent_core::replay::{RecordingSet, ReplayModel};
use agent_core::scripted::{ScriptedModel, text_response};
use agent_core::session::{
    MemorySessionStore, SessionConfig, SessionId, SessionKey, SessionOwner, SessionStore,
};
use agent_core::{AgentConfig, Conversation, Message, Model, RetryPolicy};
use agent_server::tutorial::TutorialEntrypoint;
use agent_server::{AgentCoreApp, Entrypoint, SESSION_ID_HEADER};
use agent_testkit::LocalServer;
use agent_tools::Clock;
use serde_json::{Value, json};

/// The `agent-server` binary of this package, for `agent_testkit::ServerProcess`.
pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_agent-server");

/// The tutorial's model: Bedrock's recorded answers, matched to each request's whole history.
pub(crate) fn tutorial_model() -> Arc<dyn Model> {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    Arc::new(ReplayModel::new(RecordingSet::load(&fixtures).unwrap()))
}

/// Answers how many messages it was sent, so every answer shows the history it was given.
pub(crate) fn counting_model() -> Arc<dyn Model> {
    Arc::new(ScriptedModel::new(|messages: &[Message]| {
        Ok(text_response(&format!("{} messages", messages.len())))
    }))
}

/// A running server; stops when dropped.
pub(crate) struct TestServer {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    /// The store of a tutorial server.
    pub sessions: Option<Arc<dyn SessionStore>>,
    /// The same store, when it is the in-memory one.
    pub memory: Option<MemorySessionStore>,
    server: LocalServer,
}

/// Agent limits for tests: quick retries, a 2 s model timeout, the model's plain (Converse)
/// call; tests of streaming turn `model_streaming` on.
pub(crate) fn test_agent_config() -> AgentConfig {
    AgentConfig {
        model_streaming: false,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
        model_timeout: Duration::from_secs(2),
        ..AgentConfig::default()
    }
}

impl TestServer {
    /// Serves `app` on 127.0.0.1 at an ephemeral port.
    pub(crate) async fn start(app: AgentCoreApp) -> Self {
        let server = LocalServer::start(app).await.unwrap();
        Self {
            address: server.address,
            client: reqwest::Client::new(),
            sessions: None,
            memory: None,
            server,
        }
    }

    /// Serves the tutorial entrypoint on `model` with in-memory sessions of `sessions` limits.
    pub(crate) async fn tutorial(model: Arc<dyn Model>, sessions: SessionConfig) -> Self {
        Self::tutorial_with(model, sessions, |app| app).await
    }

    /// As [`TestServer::tutorial`], with the app's limits set by `configure`.
    pub(crate) async fn tutorial_with(
        model: Arc<dyn Model>,
        sessions: SessionConfig,
        configure: impl FnOnce(AgentCoreApp) -> AgentCoreApp,
    ) -> Self {
        let memory = MemorySessionStore::new(sessions);
        let mut server = Self::tutorial_app(model, Arc::new(memory.clone()), configure).await;
        server.memory = Some(memory);
        server
    }

    /// Serves the tutorial entrypoint on `model` with its sessions in `store`.
    pub(crate) async fn tutorial_on(model: Arc<dyn Model>, store: Arc<dyn SessionStore>) -> Self {
        Self::tutorial_app(model, store, |app| app).await
    }

    async fn tutorial_app(
        model: Arc<dyn Model>,
        store: Arc<dyn SessionStore>,
        configure: impl FnOnce(AgentCoreApp) -> AgentCoreApp,
    ) -> Self {
        let entrypoint =
            TutorialEntrypoint::with_model(model, Clock::Local, test_agent_config(), store.clone());
        let mut server = Self::start(configure(AgentCoreApp::new(entrypoint))).await;
        server.sessions = Some(store);
        server
    }

    /// Serves `entrypoint`, whose sessions are in `store`.
    pub(crate) async fn agent_on(
        entrypoint: impl Entrypoint,
        store: Arc<dyn SessionStore>,
    ) -> Self {
        let mut server = Self::start(AgentCoreApp::new(entrypoint)).await;
        server.sessions = Some(store);
        server
    }

    /// The stored history of a tutorial session of `user_id`, if it exists.
    pub(crate) async fn history(&self, session: &str, user_id: &str) -> Option<Conversation> {
        let key = SessionKey::new(
            SessionOwner::user(user_id),
            SessionId::parse(session).unwrap(),
        );
        let store = self.sessions.as_ref().expect("a tutorial server");
        store.history(&key).await.unwrap()
    }

    /// Serves any entrypoint.
    pub(crate) async fn entrypoint(entrypoint: impl Entrypoint) -> Self {
        Self::start(AgentCoreApp::new(entrypoint)).await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// POST /invocations with an optional session id and a JSON payload.
    pub(crate) async fn invoke(&self, session: Option<&str>, payload: &Value) -> Reply {
        let mut request = self.client.post(self.url("/invocations")).json(payload);
        if let Some(session) = session {
            request = request.header(SESSION_ID_HEADER, session);
        }
        Reply::from(request.send().await.unwrap()).await
    }

    /// The tutorial payload.
    pub(crate) async fn ask(&self, session: &str, user_id: &str, prompt: &str) -> Reply {
        self.invoke(
            Some(session),
            &json!({"prompt": prompt, "user_id": user_id}),
        )
        .await
    }

    /// The tutorial payload, asking for server-sent events; the `data:` values, in order.
    pub(crate) async fn ask_streaming(
        &self,
        session: &str,
        user_id: &str,
        prompt: &str,
    ) -> Vec<Value> {
        let response = self
            .client
            .post(self.url("/invocations"))
            .header(SESSION_ID_HEADER, session)
            .header("accept", "text/event-stream, application/json")
            .json(&json!({"prompt": prompt, "user_id": user_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        sse_values(&response.text().await.unwrap())
    }

    /// GET /ping's body.
    pub(crate) async fn ping(&self) -> Value {
        let response = self.client.get(self.url("/ping")).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// GET /ping's status field.
    pub(crate) async fn ping_status(&self) -> String {
        self.ping().await["status"].as_str().unwrap().to_owned()
    }

    /// Asks the server to stop: it closes its listener and finishes what is in flight.
    pub(crate) fn request_stop(&mut self) {
        self.server.request_stop();
    }

    /// True once `serve` has returned, which is when a real process would exit.
    pub(crate) fn has_stopped(&self) -> bool {
        self.server.has_stopped()
    }

    /// Asks the server to stop and waits until it has.
    pub(crate) async fn shut_down(self) {
        self.server.shut_down().await.unwrap();
    }
}

/// A model that holds every call until released, and says when a call has arrived: lets tests
/// act while invocations are provably in flight, without guessing with sleeps.
#[derive(Clone)]
pub(crate) struct GatedModel {
    arrived: Arc<tokio::sync::Semaphore>,
    release: Arc<tokio::sync::Semaphore>,
}

impl GatedModel {
    pub(crate) fn new() -> Self {
        Self {
            arrived: Arc::new(tokio::sync::Semaphore::new(0)),
            release: Arc::new(tokio::sync::Semaphore::new(0)),
        }
    }

    /// Waits until `calls` model calls are being held (10 s at most, then panics).
    pub(crate) async fn wait_for_calls(&self, calls: u32) {
        let arrived =
            tokio::time::timeout(Duration::from_secs(10), self.arrived.acquire_many(calls))
                .await
                .expect("the model calls never arrived together")
                .unwrap();
        arrived.forget();
    }

    /// Calls that arrived and were not yet waited for with [`GatedModel::wait_for_calls`].
    pub(crate) fn unclaimed_calls(&self) -> usize {
        self.arrived.available_permits()
    }

    /// Lets `calls` held model calls answer.
    pub(crate) fn release(&self, calls: usize) {
        self.release.add_permits(calls);
    }
}

#[async_trait::async_trait]
impl agent_core::Model for GatedModel {
    async fn converse(
        &self,
        request: agent_core::ConverseRequest<'_>,
    ) -> Result<agent_core::ModelResponse, agent_core::ModelError> {
        self.arrived.add_permits(1);
        self.release.acquire().await.unwrap().forget();
        let text = format!("{} messages", request.messages.len());
        Ok(agent_core::scripted::text_response(&text))
    }
}

impl std::fmt::Display for GatedModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "gated".into() };
        formatter.write_str(&text)
    }
}

/// The JSON values of the `data:` lines of a server-sent event stream.
pub(crate) fn sse_values(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|event| event.lines().find_map(|line| line.strip_prefix("data: ")))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub(crate) async fn from(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap().to_vec();
        Self {
            status,
            headers,
            bytes,
        }
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }

    pub(crate) fn text(&self) -> String {
        self.json()
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("not a JSON string: {}", self.json()))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub(crate) fn session_id(&self) -> Option<&str> {
        self.header("x-amzn-bedrock-agentcore-runtime-session-id")
    }
}

/// The tutorial's three sessions across two servers on one store: session 1 asks the weather on
/// `first`, the sum on `second` and the total on `first` again (41); then sessions 2 and 3 on
/// `second`. Returns session 1's id, with its three turns stored.
pub(crate) async fn tutorial_across(first: &TestServer, second: &TestServer) -> String {
    let session_1 = format!("tutorial-1-{}", uuid::Uuid::new_v4());
    session_1_weather_and_sum(first, second, &session_1).await;
    session_1_total(first, &session_1).await;
    tutorial_sessions_2_and_3(second, second).await;
    session_1
}

/// Session 1's first two steps: the weather on `first` (sunny), the sum on `second` (7).
pub(crate) async fn session_1_weather_and_sum(
    first: &TestServer,
    second: &TestServer,
    session_1: &str,
) {
    let weather = first.ask(session_1, "1", "外の天気はどうですか?").await;
    assert!(weather.text().contains("晴れ"), "{}", weather.text());
    let sum = second.ask(session_1, "1", "2+5の答えは?").await;
    assert!(sum.text().contains('7'), "{}", sum.text());
}

/// Session 1's last step on `server`: adding 34 to the sum, which only its history knows (41).
pub(crate) async fn session_1_total(server: &TestServer, session_1: &str) {
    let total = server
        .ask(session_1, "1", "それに 34 を足すとどうなりますか?")
        .await;
    assert_eq!(
        total.status,
        200,
        "{}",
        String::from_utf8_lossy(&total.bytes)
    );
    assert!(total.text().contains("41"), "{}", total.text());
}

/// The tutorial's sessions 2 and 3 after session 1: session 2, fresh, on `fresh` must not know
/// session 1's result (a leaked history would match no recording: 502); session 3, another user,
/// on `other`.
pub(crate) async fn tutorial_sessions_2_and_3(fresh: &TestServer, other: &TestServer) {
    let session_2 = format!("tutorial-2-{}", uuid::Uuid::new_v4());
    let answer = fresh
        .ask(
            &session_2,
            "1",
            "そしてそれにさらに 10 を足すとどうなりますか?",
        )
        .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.bytes)
    );
    assert!(!answer.text().contains("51"), "{}", answer.text());
    let session_3 = format!("tutorial-3-{}", uuid::Uuid::new_v4());
    let other_user = other.ask(&session_3, "2", "天気はどうですか？").await;
    assert!(other_user.text().contains("Mani"), "{}", other_user.text());
}
