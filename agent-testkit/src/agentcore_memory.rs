//! A stand-in for the AgentCore Memory data plane: the service's REST-JSON for CreateEvent,
//! ListEvents and RetrieveMemoryRecords on a loopback port, for the real
//! `aws-sdk-bedrockagentcore` client to talk to.
//!
//! It keeps what the service keeps (events by memory, actor and session, idempotent on
//! `clientToken`; long-term records by namespace), answers ListEvents newest first in pages, as
//! a client must not rely on any order, and can fail as the service does: throttling, or being
//! down altogether (the port closed, every open connection dropped).

use agent_core::sync::lock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::restartable_port::RestartablePort;

/// The memory id the stand-in serves under unless told otherwise; any id is accepted.
pub const STAND_IN_MEMORY_ID: &str = "tutorial_memory-AbCdE12345";

/// A Memory data plane on a loopback port.
pub struct MemoryStandIn {
    shared: Arc<Mutex<Memory>>,
    port: RestartablePort,
}

/// One stored event, as the service returns it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// The memory it is in.
    pub memory_id: String,
    /// Its actor.
    pub actor_id: String,
    /// Its session.
    pub session_id: String,
    /// The event as ListEvents returns it.
    pub event: Value,
}

#[derive(Default)]
struct Memory {
    events: Vec<StoredEvent>,
    /// Long-term records: (namespace, record as RetrieveMemoryRecords returns it).
    records: Vec<(String, Value)>,
    /// Requests to answer with 429 `ThrottledException` before serving again.
    throttle: usize,
    /// Events per ListEvents page at most, whatever the client asks for.
    page_size: Option<usize>,
    /// How long RetrieveMemoryRecords takes.
    retrieve_delay: Duration,
    /// Every request body, by operation.
    requests: HashMap<&'static str, Vec<Value>>,
    /// Events by their `clientToken`, as indexes into `events`.
    tokens: HashMap<String, usize>,
    next_event: u64,
}

impl MemoryStandIn {
    /// Serves on an ephemeral loopback port.
    pub async fn start() -> Self {
        let shared = Arc::<Mutex<Memory>>::default();
        let router = Router::new()
            .route("/memories/{memory}/events", post(create_event))
            .route(
                "/memories/{memory}/actor/{actor}/sessions/{session}",
                post(list_events),
            )
            .route("/memories/{memory}/retrieve", post(retrieve_memory_records))
            .with_state(shared.clone());
        Self {
            shared,
            port: RestartablePort::serve(router).await,
        }
    }

    /// The endpoint to give the SDK (`AWS_ENDPOINT_URL_BEDROCK_AGENTCORE`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.port.address())
    }

    /// Closes the port and drops every open connection: Memory unreachable. What it stored is
    /// kept for [`MemoryStandIn::resume`].
    pub fn stop(&self) {
        self.port.stop();
    }

    /// Serves again on the same port, with what was stored.
    pub async fn resume(&self) {
        self.port.resume().await;
    }

    /// Answers the next `requests` with 429 `ThrottledException`.
    pub fn throttle_next(&self, requests: usize) {
        self.memory().throttle = requests;
    }

    /// Pages ListEvents after `events` events, whatever the client asks for.
    pub fn set_page_size(&self, events: usize) {
        self.memory().page_size = Some(events);
    }

    /// Makes RetrieveMemoryRecords take `delay`.
    pub fn set_retrieve_delay(&self, delay: Duration) {
        self.memory().retrieve_delay = delay;
    }

    /// Stores an event as another client of the memory would have (the Python SDK, say):
    /// `payload` and `metadata` in the service's JSON, at `timestamp_ms`.
    pub fn put_event(
        &self,
        actor_id: &str,
        session_id: &str,
        timestamp_ms: i64,
        payload: Value,
        metadata: Option<Value>,
    ) {
        let mut memory = self.memory();
        let id = memory.event_id(timestamp_ms);
        let mut event = json!({
            "memoryId": STAND_IN_MEMORY_ID,
            "actorId": actor_id,
            "sessionId": session_id,
            "eventId": id,
            "eventTimestamp": timestamp_ms as f64 / 1000.0,
            "payload": payload,
            "branch": {"name": "main"},
        });
        if let Some(metadata) = metadata {
            event["metadata"] = metadata;
        }
        memory.events.push(StoredEvent {
            memory_id: STAND_IN_MEMORY_ID.to_owned(),
            actor_id: actor_id.to_owned(),
            session_id: session_id.to_owned(),
            event,
        });
    }

    /// Adds a long-term record under `namespace` with `score` for every query.
    pub fn put_record(&self, namespace: &str, id: &str, text: &str, score: f64) {
        let record = json!({
            "memoryRecordId": id,
            "content": {"text": text},
            "memoryStrategyId": "preferences-AbCdE12345",
            "namespaces": [namespace],
            "createdAt": 1_764_000_000.0,
            "score": score,
        });
        self.memory().records.push((namespace.to_owned(), record));
    }

    /// The events stored in `session_id` of `actor_id`, oldest first.
    pub fn events(&self, actor_id: &str, session_id: &str) -> Vec<StoredEvent> {
        self.memory()
            .events
            .iter()
            .filter(|event| event.actor_id == actor_id && event.session_id == session_id)
            .cloned()
            .collect()
    }

    /// Every event stored.
    pub fn all_events(&self) -> Vec<StoredEvent> {
        self.memory().events.clone()
    }

    /// The bodies of the requests made to `operation` (`CreateEvent`, `ListEvents`,
    /// `RetrieveMemoryRecords`), throttled ones included.
    pub fn requests(&self, operation: &str) -> Vec<Value> {
        self.memory()
            .requests
            .get(operation)
            .cloned()
            .unwrap_or_default()
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        lock(&self.shared)
    }
}

impl Memory {
    /// Records the request; true when it is to be throttled.
    fn arrive(&mut self, operation: &'static str, body: &Value) -> bool {
        self.requests
            .entry(operation)
            .or_default()
            .push(body.clone());
        if self.throttle > 0 {
            self.throttle -= 1;
            return true;
        }
        false
    }

    /// An id as the service makes them: the time, then a unique part.
    fn event_id(&mut self, timestamp_ms: i64) -> String {
        self.next_event += 1;
        format!("{:019}#{:08x}", timestamp_ms, self.next_event)
    }
}

type Shared = State<Arc<Mutex<Memory>>>;

async fn create_event(
    State(shared): Shared,
    Path(memory_id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut memory = lock(&shared);
    if memory.arrive("CreateEvent", &body) {
        return throttled();
    }
    let text = |field: &str| body[field].as_str().unwrap_or_default().to_owned();
    let token = body["clientToken"].as_str().map(str::to_owned);
    if let Some(&index) = token.as_ref().and_then(|token| memory.tokens.get(token)) {
        let stored = &memory.events[index].event;
        return (StatusCode::CREATED, Json(json!({"event": stored}))).into_response();
    }
    let timestamp = body["eventTimestamp"].as_f64().unwrap_or_default();
    let id = memory.event_id((timestamp * 1000.0).round() as i64);
    let mut event = json!({
        "memoryId": memory_id,
        "actorId": text("actorId"),
        "sessionId": text("sessionId"),
        "eventId": id,
        "eventTimestamp": timestamp,
        "payload": body["payload"],
        "branch": {"name": "main"},
    });
    if body.get("metadata").is_some() {
        event["metadata"] = body["metadata"].clone();
    }
    if let Some(token) = token {
        let index = memory.events.len();
        memory.tokens.insert(token, index);
    }
    memory.events.push(StoredEvent {
        memory_id,
        actor_id: text("actorId"),
        session_id: text("sessionId"),
        event: event.clone(),
    });
    (StatusCode::CREATED, Json(json!({"event": event}))).into_response()
}

async fn list_events(
    State(shared): Shared,
    Path((memory_id, actor, session)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut memory = lock(&shared);
    if memory.arrive("ListEvents", &body) {
        return throttled();
    }
    // Newest first: the service documents no order.
    let matching: Vec<Value> = memory
        .events
        .iter()
        .rev()
        .filter(|event| {
            event.memory_id == memory_id && event.actor_id == actor && event.session_id == session
        })
        .map(|event| event.event.clone())
        .collect();
    let asked = body["maxResults"].as_u64().unwrap_or(20) as usize;
    let page = memory
        .page_size
        .map_or(asked, |size| size.min(asked))
        .max(1);
    let start: usize = body["nextToken"]
        .as_str()
        .and_then(|token| token.parse().ok())
        .unwrap_or(0);
    let end = (start + page).min(matching.len());
    let mut answer = json!({"events": matching.get(start..end).unwrap_or_default()});
    if end < matching.len() {
        answer["nextToken"] = Value::from(end.to_string());
    }
    Json(answer).into_response()
}

async fn retrieve_memory_records(State(shared): Shared, Json(body): Json<Value>) -> Response {
    let (delay, records) = {
        let mut memory = lock(&shared);
        if memory.arrive("RetrieveMemoryRecords", &body) {
            return throttled();
        }
        let prefix = body["namespacePath"]
            .as_str()
            .or(body["namespace"].as_str())
            .unwrap_or_default()
            .to_owned();
        let top_k = body["searchCriteria"]["topK"].as_u64().unwrap_or(10) as usize;
        let records: Vec<Value> = memory
            .records
            .iter()
            .filter(|(namespace, _)| namespace.starts_with(&prefix))
            .map(|(_, record)| record.clone())
            .take(top_k)
            .collect();
        (memory.retrieve_delay, records)
    };
    tokio::time::sleep(delay).await;
    Json(json!({"memoryRecordSummaries": records})).into_response()
}

/// The service's answer to a client over its rate.
fn throttled() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("x-amzn-errortype", "ThrottledException")],
        Json(json!({"message": "Rate exceeded"})),
    )
        .into_response()
}
