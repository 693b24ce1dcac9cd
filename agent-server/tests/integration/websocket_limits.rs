//! No `/ws` client takes more than its share: one payload waits behind the running invocation
//! and a further one is refused with a `SocketBusy` event; a message over the body limit closes
//! the socket with 1009; the bytes of a message still being received count against the body
//! budget POST bodies share, and a read the budget has no room for closes that socket with 1013
//! — its share given back, the other sockets and POSTs served.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{GatedModel, TestServer, counting_model};
use agent_core::session::SessionConfig;
use agent_server::SESSION_ID_HEADER;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(server: &TestServer, session: &str) -> Socket {
    let url = format!("ws://{}/ws", server.address);
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request
        .headers_mut()
        .insert(SESSION_ID_HEADER, session.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

fn payload(prompt: &str) -> Message {
    Message::Text(json!({"prompt": prompt, "user_id": "1"}).to_string().into())
}

/// The next JSON event, or the close frame's code when the server closes the socket.
async fn next_event(socket: &mut Socket) -> Result<Value, Option<CloseCode>> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an event within 10 s");
        match message {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|frame| frame.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(None),
        }
    }
}

/// The events up to and including a `result` or error event.
async fn until_last(socket: &mut Socket) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let event = next_event(socket).await.expect("an open socket");
        let last = event.get("result").is_some() || event.get("error").is_some();
        events.push(event);
        if last {
            return events;
        }
    }
}

#[tokio::test]
async fn one_payload_waits_behind_the_running_one_and_a_further_one_is_refused() {
    let model = GatedModel::new();
    let server = TestServer::tutorial(Arc::new(model.clone()), SessionConfig::default()).await;
    let mut socket = open(&server, "queue").await;
    socket.send(payload("first")).await.unwrap();
    model.wait_for_calls(1).await;
    socket.send(payload("second")).await.unwrap();
    socket.send(payload("third")).await.unwrap();
    let refused = next_event(&mut socket).await.unwrap();
    assert_eq!(refused["error_type"], "SocketBusy", "{refused}");
    model.release(1);
    let first = until_last(&mut socket).await;
    assert_eq!(first.last().unwrap()["result"]["text"], "1 messages");
    model.wait_for_calls(1).await;
    model.release(1);
    let second = until_last(&mut socket).await;
    assert_eq!(second.last().unwrap()["result"]["text"], "3 messages");
    assert_eq!(model.unclaimed_calls(), 0, "the refused payload never ran");
    assert_eq!(server.history("queue", "1").await.unwrap().len(), 4);
    // The socket stays usable.
    socket.send(payload("fourth")).await.unwrap();
    model.wait_for_calls(1).await;
    model.release(1);
    assert_eq!(
        until_last(&mut socket).await.last().unwrap()["result"]["text"],
        "5 messages"
    );
}

#[tokio::test]
async fn a_message_over_the_body_limit_closes_the_socket_with_1009() {
    let server = TestServer::tutorial_with(counting_model(), SessionConfig::default(), |app| {
        app.with_max_body_bytes(1024)
    })
    .await;
    let mut socket = open(&server, "too-large").await;
    socket.send(payload(&"x".repeat(2048))).await.unwrap();
    assert_eq!(
        next_event(&mut socket).await.err(),
        Some(Some(CloseCode::Size))
    );
    assert!(server.history("too-large", "1").await.is_none());
    // Within the limit, another socket is served.
    let mut socket = open(&server, "small").await;
    socket.send(payload("hi")).await.unwrap();
    assert_eq!(
        until_last(&mut socket).await.last().unwrap()["result"]["text"],
        "1 messages"
    );
}

/// A POST of a `bytes`-byte body: its status.
async fn post_body(server: &TestServer, bytes: usize) -> u16 {
    let prompt = "y".repeat(bytes.saturating_sub(40));
    let body = json!({"prompt": prompt, "user_id": "1"}).to_string();
    server
        .client
        .post(server.url("/invocations"))
        .header(SESSION_ID_HEADER, "post-probe")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits until a POST of `bytes` is refused for the budget: proof that the server holds what a
/// socket sent, read but not yet a whole message.
async fn until_posts_are_refused(server: &TestServer, bytes: usize) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while post_body(server, bytes).await != 503 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the half-received message never took the budget");
}

#[tokio::test]
async fn a_half_received_message_counts_against_the_body_budget_and_a_read_past_it_closes_1013() {
    // A 256 KiB budget: bodies of up to 128 KiB, each charged twice its size.
    let server = TestServer::tutorial_with(counting_model(), SessionConfig::default(), |app| {
        app.with_body_budget(256 * 1024)
    })
    .await;
    let mut holder = open(&server, "holder").await;
    let text = json!({"prompt": "z".repeat(100 * 1024), "user_id": "1"}).to_string();
    let (head, tail) = text.as_bytes().split_at(90 * 1024);
    holder
        .send(Message::Frame(Frame::message(
            head.to_vec(),
            OpCode::Data(Data::Text),
            false,
        )))
        .await
        .unwrap();
    // 90 KiB held (180 KiB charged): a 60 KiB POST (120 KiB) no longer fits.
    until_posts_are_refused(&server, 60 * 1024).await;
    // Another socket's read past what is left closes that socket with 1013.
    let mut other = open(&server, "other").await;
    other
        .send(Message::Frame(Frame::message(
            vec![b' '; 50 * 1024],
            OpCode::Data(Data::Text),
            false,
        )))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut other).await.err(),
        Some(Some(CloseCode::Again))
    );
    // The holder finishes its message: it is served, and its share is given back.
    holder
        .send(Message::Frame(Frame::message(
            tail.to_vec(),
            OpCode::Data(Data::Continue),
            true,
        )))
        .await
        .unwrap();
    assert_eq!(
        until_last(&mut holder).await.last().unwrap()["result"]["text"],
        "1 messages"
    );
    assert_eq!(post_body(&server, 60 * 1024).await, 200);
    assert_eq!(server.history("holder", "1").await.unwrap().len(), 2);
}
