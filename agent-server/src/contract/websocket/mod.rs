//! `/ws`: the contract's WebSocket route (the reference's `@app.websocket`). The handshake's
//! headers give the context, as a POST's do; each JSON text message is one invocation payload,
//! answered by the same events as the event stream, each as one text message, ending with the
//! `result` (or error) event. Bad input gets an error event and the socket stays usable; any
//! number of invocations may follow on one socket, one at a time. A client that closes the socket
//! mid-invocation stops it, so its session turn rolls back.
//!
//! No client takes more than its share: every byte it sends is charged to the body budget as it
//! arrives (`metered_io`), a message over the body limit closes the socket with 1009, a read the
//! budget has no room for closes it with 1013, and while an invocation runs one payload may wait
//! behind it — a further one is answered with a `SocketBusy` error event and never run.

mod handshake;
mod metered_io;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tower::ServiceExt;

use self::metered_io::{Meter, MeteredIo};
use super::body::BodyBudget;
use super::invocation::{Body, Invocation, Pipeline, Route, RouteState};
use super::layers::Context;
use crate::context::RuntimeContext;
use crate::entrypoint::Output;
use crate::entrypoint::stream_events::error_value;
use crate::error::InvocationError;

/// Accepts the upgrade; the runtime-context layer has already refused a handshake whose headers
/// make no usable context, or (auth on) whose caller is not proven.
pub(super) async fn upgrade(
    State(state): State<RouteState>,
    Context(context): Context,
    mut request: Request,
) -> Response {
    let handshake = match handshake::accept(&mut request) {
        Ok(handshake) => handshake,
        Err(error) => return error.into_response(),
    };
    let headers = request.headers().clone();
    let RouteState { pipeline, bodies } = state;
    tokio::spawn(async move {
        let Ok(upgraded) = handshake.upgrade.await else {
            return;
        };
        let meter = Meter::new(bodies.clone());
        let io = MeteredIo::new(TokioIo::new(upgraded), meter.clone());
        let socket =
            WebSocketStream::from_raw_socket(io, Role::Server, Some(config(&bodies))).await;
        Connection {
            socket,
            meter,
            pipeline,
            context,
            headers,
        }
        .serve()
        .await;
    });
    handshake.response
}

/// Messages and frames up to the body limit, as a POST body.
fn config(bodies: &BodyBudget) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(bodies.limit()))
        .max_frame_size(Some(bodies.limit()))
}

type Socket = WebSocketStream<MeteredIo<TokioIo<hyper::upgrade::Upgraded>>>;

/// What the client sent.
enum Incoming {
    /// A text message, with its share of the body budget.
    Payload(String, Option<OwnedSemaphorePermit>),
    /// The socket is done: closed by the client, broken, or closed by us with `code`.
    Closed(Option<CloseCode>),
}

/// One upgraded socket and what its invocations need.
struct Connection {
    socket: Socket,
    meter: std::sync::Arc<Meter>,
    pipeline: Pipeline,
    context: RuntimeContext,
    headers: HeaderMap,
}

impl Connection {
    async fn serve(mut self) {
        // The one payload that may wait behind the running invocation.
        let mut waiting: Option<(String, Option<OwnedSemaphorePermit>)> = None;
        loop {
            let (text, charge) = match waiting.take() {
                Some(payload) => payload,
                None => match self.receive().await {
                    Incoming::Payload(text, charge) => (text, charge),
                    Incoming::Closed(code) => return self.close(code).await,
                },
            };
            let invocation = Invocation {
                route: Route::WebSocket,
                context: self.context.clone(),
                headers: self.headers.clone(),
                body: Body::Text(text, charge),
                streaming: true,
            };
            let Ok(answer) = self.pipeline.clone().oneshot(invocation).await;
            let mut items = match answer {
                Ok(Output::Stream(items)) => items,
                Ok(Output::Value(value)) => futures::stream::iter([Ok(value)]).boxed(),
                Ok(Output::Response(response)) => {
                    if self.send_body(response).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(error) => futures::stream::iter([Err(error)]).boxed(),
            };
            // Forward the invocation's events; one client message meanwhile waits its turn, a
            // further one is refused, and a client that leaves drops `items`, which stops the
            // invocation.
            loop {
                tokio::select! {
                    item = items.next() => {
                        let Some(item) = item else { break };
                        let (value, last) = match item {
                            Ok(value) => (value, false),
                            Err(error) => (error_value(&error), true),
                        };
                        if self.send(&value).await.is_err() {
                            return;
                        }
                        if last {
                            break;
                        }
                    }
                    incoming = self.receive() => match incoming {
                        Incoming::Payload(text, charge) if waiting.is_none() => {
                            waiting = Some((text, charge));
                        }
                        Incoming::Payload(_, charge) => {
                            drop(charge);
                            let busy = InvocationError::SocketBusy(
                                "an invocation is running and another payload waits behind it on this socket; send the next one after a result event".into(),
                            );
                            if self.send(&error_value(&busy)).await.is_err() {
                                return;
                            }
                        }
                        Incoming::Closed(code) => return self.close(code).await,
                    },
                }
            }
        }
    }

    /// The next text message, skipping pings, pongs and binary frames (whose charge is given
    /// back at once).
    async fn receive(&mut self) -> Incoming {
        loop {
            let next = self.socket.next().await;
            let charge = self.meter.take_charge();
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Incoming::Payload(text.as_str().to_owned(), charge);
                }
                Some(Ok(Message::Close(_))) | None => return Incoming::Closed(None),
                Some(Ok(_)) => {}
                Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {
                    return Incoming::Closed(Some(CloseCode::Size));
                }
                Some(Err(_)) if self.meter.was_refused() => {
                    return Incoming::Closed(Some(CloseCode::Again));
                }
                Some(Err(_)) => return Incoming::Closed(None),
            }
        }
    }

    /// Ends the socket: with a close frame of `code` and its reason when the server closes it.
    async fn close(mut self, code: Option<CloseCode>) {
        let Some(code) = code else { return };
        let reason = match code {
            CloseCode::Size => "the message is larger than the body limit",
            _ => "the server's memory budget for request bodies is taken; try again shortly",
        };
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
        let _ = self.socket.close(None).await;
    }

    /// An entrypoint's own response on a socket: its body as one text message.
    async fn send_body(&mut self, response: Response) -> Result<(), ()> {
        let body = axum::body::to_bytes(response.into_body(), MAX_RESPONSE_BODY)
            .await
            .map_err(|_| ())?;
        let text = String::from_utf8_lossy(&body).into_owned();
        self.socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| ())
    }

    async fn send(&mut self, value: &Value) -> Result<(), ()> {
        self.socket
            .send(Message::Text(value.to_string().into()))
            .await
            .map_err(|_| ())
    }
}

/// The largest body of an entrypoint's own response that `/ws` passes on.
const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;
