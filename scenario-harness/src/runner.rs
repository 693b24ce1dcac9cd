//! Drives a script over HTTP against any AgentCore-contract server, as the tutorial's client does:
//! one new session id per scripted session, sent in the session header with every invocation —
//! asking for one JSON answer, for server-sent events, or over the `/ws` WebSocket.

use agent_server::SESSION_ID_HEADER;
use agent_server::tutorial::user_name;
use anyhow::Context;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::script::{Script, SessionScript, Step};

/// What happened at one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// The session's label in the script.
    pub session_label: String,
    /// The runtime session id sent.
    pub session_id: String,
    /// The user.
    pub user_id: String,
    /// Position of the step in its session, from 1.
    pub step: usize,
    /// True for the first invocation of a session.
    pub new_session: bool,
    /// The prompt sent.
    pub prompt: String,
    /// The HTTP status.
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

/// How the client takes its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// `POST /invocations`, one JSON answer.
    Json,
    /// `POST /invocations` with `Accept: text/event-stream`; the answer is the `result` event's text.
    EventStream,
    /// `/ws`, one socket per session; the answer is the `result` event's text.
    WebSocket,
}

/// Runs every step of `script` against `base_url` over `transport`, calling `before_step` ahead
/// of each one.
pub async fn drive(
    base_url: &str,
    script: &Script,
    transport: Transport,
    mut before_step: impl FnMut(&SessionScript, &Step),
) -> anyhow::Result<Vec<StepOutcome>> {
    let base_url = base_url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let mut outcomes = Vec::with_capacity(script.step_count());
    for session in &script.sessions {
        let session_id = uuid::Uuid::new_v4().to_string();
        let mut socket = match transport {
            Transport::WebSocket => Some(connect(base_url, &session_id).await?),
            _ => None,
        };
        for (index, step) in session.steps.iter().enumerate() {
            before_step(session, step);
            let payload = json!({"prompt": step.prompt, "user_id": session.user_id});
            let (status, answer) = match socket.as_mut() {
                Some(socket) => over_socket(socket, &payload).await?,
                None => over_http(&client, base_url, &session_id, &payload, transport).await?,
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

/// One invocation over HTTP: its status and answer text.
async fn over_http(
    client: &reqwest::Client,
    base_url: &str,
    session_id: &str,
    payload: &Value,
    transport: Transport,
) -> anyhow::Result<(u16, String)> {
    let url = format!("{base_url}/invocations");
    let mut request = client
        .post(&url)
        .header(SESSION_ID_HEADER, session_id)
        .json(payload);
    if transport == Transport::EventStream {
        request = request.header(reqwest::header::ACCEPT, "text/event-stream");
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("invoking {url}"))?;
    let status = response.status().as_u16();
    let streamed = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"text/event-stream"));
    let body = response.text().await.context("reading the response")?;
    if streamed {
        let events: Vec<Value> = body
            .split("\n\n")
            .filter_map(|event| event.lines().find_map(|line| line.strip_prefix("data: ")))
            .filter_map(|data| serde_json::from_str(data).ok())
            .collect();
        return Ok(result_of(&events).map_or((500, body), |answer| (status, answer)));
    }
    let answer = match serde_json::from_str::<Value>(&body) {
        Ok(Value::String(text)) => text,
        _ => body,
    };
    Ok((status, answer))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `/ws` connection for `session_id`.
async fn connect(base_url: &str, session_id: &str) -> anyhow::Result<Socket> {
    let url = format!("{}/ws", base_url.replacen("http", "ws", 1));
    let mut request = url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert(SESSION_ID_HEADER, session_id.parse()?);
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    Ok(socket)
}

/// One invocation over a socket: sends the payload, reads events up to the last one.
async fn over_socket(socket: &mut Socket, payload: &Value) -> anyhow::Result<(u16, String)> {
    socket
        .send(Message::Text(payload.to_string().into()))
        .await?;
    let mut events = Vec::new();
    while let Some(message) = socket.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        let event: Value = serde_json::from_str(&text)?;
        let last = event.get("result").is_some() || event.get("error").is_some();
        events.push(event);
        if last {
            break;
        }
    }
    Ok(result_of(&events).map_or_else(
        || (500, serde_json::to_string(&events).unwrap_or_default()),
        |answer| (200, answer),
    ))
}

/// The text of the `result` event that ends a stream, if it ended with one.
fn result_of(events: &[Value]) -> Option<String> {
    let text = events.last()?.get("result")?.get("text")?.as_str()?;
    Some(text.to_owned())
}
