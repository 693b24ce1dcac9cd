//! The connection edge against slow and idle clients: a half-sent request head is closed after
//! the header timeout while other clients are served, an idle keep-alive connection is closed the
//! same way, and past the connection cap new connections wait until a slot frees.

use std::time::Duration;

use crate::support::TestServer;
use agent_server::{AgentCoreApp, EdgeConfig, entrypoint_fn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server(edge: EdgeConfig) -> TestServer {
    let app =
        AgentCoreApp::new(entrypoint_fn(|_payload, _context| async { Ok("ok") })).with_edge(edge);
    TestServer::start(app).await
}

/// Reads until the server closes the connection (10 s at most); returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received))
        .await
        .expect("the server never closed the connection")
        .unwrap();
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_after_the_header_timeout_while_others_are_served() {
    let server = server(EdgeConfig {
        header_timeout: Duration::from_millis(300),
        ..EdgeConfig::default()
    })
    .await;
    let mut slow = TcpStream::connect(server.address).await.unwrap();
    slow.write_all(b"POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Le")
        .await
        .unwrap();
    assert_eq!(server.ping_status().await, "Healthy", "served meanwhile");
    let answer = until_closed(&mut slow).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = server(EdgeConfig {
        header_timeout: Duration::from_millis(300),
        ..EdgeConfig::default()
    })
    .await;
    let mut idle = TcpStream::connect(server.address).await.unwrap();
    idle.write_all(b"GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Healthy"), "{answer}");
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_waits_until_a_slot_frees() {
    let server = server(EdgeConfig {
        header_timeout: Duration::from_secs(60),
        max_connections: 2,
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        stream.write_all(b"GET /pi").await.unwrap();
        held.push(stream);
    }
    let mut waiting = tokio::spawn({
        let url = server.url("/ping");
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    });
    // While both slots are held the third connection is not served. (A wrong server answers at
    // once and fails here; a slow one cannot make a right server fail.)
    let early = tokio::time::timeout(Duration::from_millis(300), &mut waiting).await;
    assert!(early.is_err(), "served past the cap: {early:?}");
    drop(held.pop());
    let status = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert_eq!(status, 200);
}
