//! `/ws`: the contract's WebSocket route (the reference's `@app.websocket`). The handshake's
//! headers give the context, as a POST's do; each JSON text message is one invocation payload,
//! answered by the same events as the event stream, each as one text message, ending with the
//! `result` (or error) event. Bad input gets an error event and the socket stays usable; any
//! number of invocations may follow on one socket, one at a time. A client that closes the socket
//! mid-invocation stops it, so its session turn rolls back.

use std::collections::VecDeque;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::StreamExt;
use serde_json::Value;
use tower::ServiceExt;

use super::invocation::{Body, Invocation, Pipeline, Route, RouteState};
use super::layers::Context;
use crate::context::RuntimeContext;
use crate::entrypoint::Output;
use crate::entrypoint::stream_events::error_value;

/// Accepts the upgrade; the runtime-context layer has already refused a handshake whose headers
/// make no usable context.
pub(super) async fn upgrade(
    State(state): State<RouteState>,
    Context(context): Context,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |socket| serve(state.pipeline, socket, context, headers))
}

/// What the client sent: a payload to run, or the end of the conversation.
enum Incoming {
    Payload(String),
    Closed,
}

async fn serve(
    pipeline: Pipeline,
    mut socket: WebSocket,
    context: RuntimeContext,
    headers: HeaderMap,
) {
    let mut waiting = VecDeque::new();
    loop {
        let text = match waiting.pop_front() {
            Some(text) => text,
            None => match receive(&mut socket).await {
                Incoming::Payload(text) => text,
                Incoming::Closed => return,
            },
        };
        let invocation = Invocation {
            route: Route::WebSocket,
            context: context.clone(),
            headers: headers.clone(),
            body: Body::Text(text),
            streaming: true,
        };
        let Ok(answer) = pipeline.clone().oneshot(invocation).await;
        let mut items = match answer {
            Ok(Output::Stream(items)) => items,
            Ok(Output::Value(value)) => futures::stream::iter([Ok(value)]).boxed(),
            Ok(Output::Response(response)) => {
                if send_body(&mut socket, response).await.is_err() {
                    return;
                }
                continue;
            }
            Err(error) => futures::stream::iter([Err(error)]).boxed(),
        };
        // Forward the invocation's events; a client message meanwhile waits its turn, and a
        // client that leaves drops `items`, which stops the invocation.
        loop {
            tokio::select! {
                item = items.next() => {
                    let Some(item) = item else { break };
                    let (value, last) = match item {
                        Ok(value) => (value, false),
                        Err(error) => (error_value(&error), true),
                    };
                    if send(&mut socket, &value).await.is_err() {
                        return;
                    }
                    if last {
                        break;
                    }
                }
                incoming = receive(&mut socket) => match incoming {
                    Incoming::Payload(text) => waiting.push_back(text),
                    Incoming::Closed => return,
                },
            }
        }
    }
}

/// The next payload, skipping pings, pongs and binary frames.
async fn receive(socket: &mut WebSocket) -> Incoming {
    while let Some(Ok(message)) = socket.recv().await {
        match message {
            Message::Text(text) => return Incoming::Payload(text.to_string()),
            Message::Close(_) => return Incoming::Closed,
            Message::Binary(_) | Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    Incoming::Closed
}

/// An entrypoint's own response on a socket: its body as one text message.
async fn send_body(socket: &mut WebSocket, response: Response) -> Result<(), axum::Error> {
    let body = axum::body::to_bytes(response.into_body(), MAX_RESPONSE_BODY).await?;
    let text = String::from_utf8_lossy(&body).into_owned();
    socket.send(Message::Text(text.into())).await
}

/// The largest body of an entrypoint's own response that `/ws` passes on.
const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

async fn send(socket: &mut WebSocket, value: &Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(value.to_string().into())).await
}
