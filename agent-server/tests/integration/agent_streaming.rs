//! The tutorial agent streaming to clients: server-sent events when `Accept` lists
//! `text/event-stream`, the same events over `/ws`, today's JSON string otherwise — all three
//! the same answer; a client that disconnects mid-stream stops the invocation and leaves its
//! session unchanged and free.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{TestServer, test_agent_config};
use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
use agent_core::session::{MemorySessionStore, SessionConfig};
use agent_core::{
    AgentConfig, ConverseRequest, Message, Model, ModelError, ModelEvent, ModelEvents,
    ModelResponse,
};
use agent_server::tutorial::TutorialEntrypoint;
use agent_server::{AgentCoreApp, SESSION_ID_HEADER};
use agent_tools::Clock;
use async_trait::async_trait;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

/// A prompt with "calc" gets a calculator round, then an answer naming the message count.
fn model() -> ScriptedModel {
    ScriptedModel::new(|messages: &[Message]| {
        let last = messages.last().expect("a request has messages");
        if let Some(result) = last.tool_results().next() {
            return Ok(text_response(&format!(
                "{} ({} messages)",
                result.text(),
                messages.len()
            )));
        }
        if last.text().contains("calc") {
            return Ok(tool_use_response(&[(
                &format!("t{}", messages.len()),
                "calculator",
                json!({"expression": "2+5"}),
            )]));
        }
        Ok(text_response(&format!("{} messages", messages.len())))
    })
}

/// The tutorial server on `model`, its agent calling the model's streaming form.
async fn streaming_server(model: Arc<dyn Model>) -> TestServer {
    let config = AgentConfig {
        model_streaming: true,
        ..test_agent_config()
    };
    let store = MemorySessionStore::new(SessionConfig::default());
    let entrypoint =
        TutorialEntrypoint::with_model(model, Clock::Local, config, Arc::new(store.clone()));
    let mut server = TestServer::start(AgentCoreApp::new(entrypoint)).await;
    server.sessions = Some(Arc::new(store.clone()));
    server.memory = Some(store);
    server
}

#[tokio::test]
async fn server_sent_events_carry_tool_calls_text_and_the_result_in_the_contract_format() {
    let server = streaming_server(Arc::new(model())).await;
    let events = server.ask_streaming("sse", "1", "calc 2+5").await;
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(
        events[0],
        json!({"tool_use": {"toolUseId": "t1", "name": "calculator", "input": {"expression": "2+5"}}})
    );
    assert_eq!(
        events[1],
        json!({"tool_result": {"toolUseId": "t1", "name": "calculator", "status": "success",
               "content": [{"text": "Result: 7"}]}})
    );
    assert_eq!(events[2], json!("Result: 7 (3 messages)"));
    assert_eq!(events[3]["result"]["text"], "Result: 7 (3 messages)");
    assert_eq!(events[3]["result"]["stop_reason"], "end_turn");
    assert_eq!(server.history("sse", "1").await.unwrap().len(), 4);
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `/ws` connection whose handshake names `session`.
async fn open_socket(server: &TestServer, session: &str) -> Socket {
    let url = format!("ws://{}/ws", server.address);
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request
        .headers_mut()
        .insert(SESSION_ID_HEADER, session.parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
}

/// One invocation over `/ws`: the events answering `payload`, up to the last.
async fn over_websocket(socket: &mut Socket, payload: &str) -> Vec<Value> {
    socket
        .send(tungstenite::Message::Text(payload.into()))
        .await
        .unwrap();
    let mut events = Vec::new();
    while let Some(message) = socket.next().await {
        let tungstenite::Message::Text(text) = message.unwrap() else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        let last = value.get("result").is_some() || value.get("error").is_some();
        events.push(value);
        if last {
            return events;
        }
    }
    panic!("the socket closed mid-invocation: {events:?}");
}

#[tokio::test]
async fn plain_json_server_sent_events_and_websocket_give_the_same_answer() {
    let server = streaming_server(Arc::new(model())).await;
    let plain = server.ask("plain", "1", "calc 2+5").await.text();
    let streamed = server.ask_streaming("sse", "1", "calc 2+5").await;
    let mut socket = open_socket(&server, "ws").await;
    let payload = json!({"prompt": "calc 2+5", "user_id": "1"}).to_string();
    let over_ws = over_websocket(&mut socket, &payload).await;

    assert_eq!(plain, "Result: 7 (3 messages)");
    assert_eq!(streamed.last().unwrap()["result"]["text"], plain);
    assert_eq!(over_ws, streamed, "the same events on both transports");

    // Bad input is an error event and the socket stays usable; invocations continue the session.
    let bad = over_websocket(&mut socket, "{not json").await;
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["error_type"], "InvalidJson");
    assert_eq!(bad[0]["message"], "An error occurred during streaming");
    let unknown_user = over_websocket(&mut socket, r#"{"prompt": "hi", "user_id": "99"}"#).await;
    assert_eq!(unknown_user[0]["error_type"], "InvalidPayload");
    let again = over_websocket(
        &mut socket,
        &json!({"prompt": "hi", "user_id": "1"}).to_string(),
    )
    .await;
    assert_eq!(again.last().unwrap()["result"]["text"], "5 messages");
    assert_eq!(server.history("ws", "1").await.unwrap().len(), 6);
}

/// Streams one delta, then holds the turn open until the client goes away.
struct StartsThenHangs;

#[async_trait]
impl Model for StartsThenHangs {
    async fn converse(&self, _request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        unreachable!("this agent streams")
    }

    fn converse_stream<'a>(&'a self, request: ConverseRequest<'a>) -> ModelEvents<'a> {
        if request
            .messages
            .last()
            .is_some_and(|message| message.text().contains("hang"))
        {
            futures::stream::iter([Ok(ModelEvent::TextDelta("thinking…".into()))])
                .chain(futures::stream::pending())
                .boxed()
        } else {
            let answer = text_response(&format!("{} messages", request.messages.len()));
            futures::stream::iter([Ok(ModelEvent::Completed(answer))]).boxed()
        }
    }
}

impl std::fmt::Display for StartsThenHangs {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "starts then hangs".into() };
        formatter.write_str(&text)
    }
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_stops_the_invocation_and_frees_the_session() {
    let server = streaming_server(Arc::new(StartsThenHangs)).await;
    assert_eq!(server.ask("s", "1", "first").await.text(), "1 messages");

    let mut response = server
        .client
        .post(server.url("/invocations"))
        .header(SESSION_ID_HEADER, "s")
        .header("accept", "text/event-stream")
        .json(&json!({"prompt": "hang", "user_id": "1"}))
        .send()
        .await
        .unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("thinking…"));
    assert_eq!(server.ping_status().await, "HealthyBusy");
    drop(response);

    // Nothing to wait on but the server noticing; bounded, and the outcome is not timed.
    let started = Instant::now();
    while server.ping_status().await != "Healthy" {
        assert!(started.elapsed() < Duration::from_secs(10), "still busy");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        server.ask("s", "1", "second").await.text(),
        "3 messages",
        "the session is free and holds nothing of the abandoned turn"
    );
}

/// Bedrock on wiremock answering ConverseStream calls with queued responses, in order.
#[derive(Clone, Default)]
struct QueuedBedrock(Arc<std::sync::Mutex<std::collections::VecDeque<wiremock::ResponseTemplate>>>);

impl wiremock::Respond for QueuedBedrock {
    fn respond(&self, _request: &wiremock::Request) -> wiremock::ResponseTemplate {
        self.0
            .lock()
            .unwrap()
            .pop_front()
            .expect("a response is queued for every call")
    }
}

fn event_stream(frames: &[agent_core::replay::frames::StreamFrame]) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_raw(
        agent_core::replay::event_stream::encode_stream_body(frames),
        agent_core::replay::event_stream::EVENT_STREAM_CONTENT_TYPE,
    )
}

#[tokio::test]
async fn through_bedrock_a_throttled_start_is_retried_and_a_failure_after_text_ends_the_stream_cleanly()
 {
    use agent_core::replay::frames::{StreamFrame, frames_for};

    let queue = QueuedBedrock::default();
    let answer = frames_for(&text_response("Mairaさん、晴れです。"), 4);
    let mut failing = answer[..3].to_vec();
    failing.push(StreamFrame::exception(
        "modelStreamErrorException",
        "the model stopped",
    ));
    let body = agent_core::replay::event_stream::encode_stream_body(&answer);
    let cut = wiremock::ResponseTemplate::new(200).set_body_raw(
        body[..body.len() / 2].to_vec(),
        agent_core::replay::event_stream::EVENT_STREAM_CONTENT_TYPE,
    );
    queue.0.lock().unwrap().extend([
        wiremock::ResponseTemplate::new(429)
            .insert_header("x-amzn-ErrorType", "ThrottlingException")
            .set_body_json(json!({"message": "Too many requests"})),
        event_stream(&answer),
        event_stream(&failing),
        cut,
    ]);
    let bedrock = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path_regex(
            "^/model/[^/]+/converse-stream$",
        ))
        .respond_with(queue.clone())
        .mount(&bedrock)
        .await;
    let model = agent_core::bedrock::BedrockModel::for_local_endpoint(
        &bedrock.uri(),
        agent_core::bedrock::DEFAULT_MODEL_ID,
    )
    .await;
    let server = streaming_server(Arc::new(model)).await;

    let events = server.ask_streaming("b", "1", "天気は?").await;
    let text: String = events.iter().filter_map(Value::as_str).collect();
    assert_eq!(
        text, "Mairaさん、晴れです。",
        "streamed in pieces: {events:?}"
    );
    assert!(events.len() > 3);
    assert_eq!(events.last().unwrap()["result"]["text"], text);
    assert_eq!(
        bedrock.received_requests().await.unwrap().len(),
        2,
        "the 429 was retried"
    );

    for (case, says) in [
        ("failure after text", "the model stopped"),
        ("cut mid-frame", ""),
    ] {
        let events = server.ask_streaming("b", "1", "もう一度?").await;
        let last = events.last().unwrap();
        assert_eq!(last["error_type"], "ModelFailed", "{case}: {events:?}");
        assert!(
            last["error"].as_str().unwrap().contains(says),
            "{case}: {last}"
        );
        assert_eq!(
            server.history("b", "1").await.unwrap().len(),
            2,
            "{case}: the failed turn was rolled back"
        );
    }
}

#[tokio::test]
async fn a_websocket_closed_mid_invocation_stops_it_and_frees_the_session() {
    let server = streaming_server(Arc::new(StartsThenHangs)).await;
    assert_eq!(server.ask("w", "1", "first").await.text(), "1 messages");
    let mut socket = open_socket(&server, "w").await;
    socket
        .send(tungstenite::Message::Text(
            json!({"prompt": "hang", "user_id": "1"}).to_string().into(),
        ))
        .await
        .unwrap();
    let first = socket.next().await.unwrap().unwrap();
    assert_eq!(first.into_text().unwrap().as_str(), "\"thinking…\"");
    assert_eq!(server.ping_status().await, "HealthyBusy");
    socket.close(None).await.unwrap();
    drop(socket);

    let started = Instant::now();
    while server.ping_status().await != "Healthy" {
        assert!(started.elapsed() < Duration::from_secs(10), "still busy");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.ask("w", "1", "second").await.text(), "3 messages");
}
