//! Streaming entrypoints: values sent as server-sent events as they are produced.

use std::time::Duration;

use crate::support::TestServer;
use agent_server::{InvocationError, streaming_entrypoint_fn};
use futures::StreamExt;
use futures::stream;
use serde_json::{Value, json};

/// The `data:` payloads of an event-stream body, parsed as JSON.
fn events(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| serde_json::from_str(event.strip_prefix("data: ").unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn values_arrive_as_server_sent_events() {
    let server = TestServer::entrypoint(streaming_entrypoint_fn(
        |payload: Value, context| async move {
            let prompt = payload["prompt"].as_str().unwrap_or_default().to_owned();
            let items = vec![
                json!("晴れ"),
                json!({"prompt": prompt}),
                json!({"session": context.session_id.as_str()}),
            ];
            Ok(stream::iter(
                items.into_iter().map(Ok::<_, InvocationError>),
            ))
        },
    ))
    .await;
    let reply = server
        .invoke(Some("stream-1"), &json!({"prompt": "hi"}))
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(reply.session_id(), Some("stream-1"));
    assert!(String::from_utf8_lossy(&reply.bytes).starts_with("data: \"晴れ\"\n\n"));
    assert_eq!(
        events(&reply.bytes),
        vec![
            json!("晴れ"),
            json!({"prompt": "hi"}),
            json!({"session": "stream-1"})
        ]
    );
}

#[tokio::test]
async fn an_error_ends_the_stream_with_one_error_event() {
    let server = TestServer::entrypoint(streaming_entrypoint_fn(
        |_payload: Value, _context| async move {
            Ok(stream::iter(vec![
                Ok(json!(1)),
                Err(InvocationError::from(agent_core::AgentError::Timeout(
                    std::time::Duration::from_secs(2),
                ))),
                Ok(json!("never sent")),
            ]))
        },
    ))
    .await;
    let reply = server.invoke(Some("stream-2"), &json!({})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        events(&reply.bytes),
        vec![
            json!(1),
            json!({
                "error": "Model timeout: the model did not answer within 2s",
                "error_type": "ModelTimeout",
                "message": "An error occurred during streaming"
            })
        ]
    );
}

#[tokio::test]
async fn an_error_before_the_stream_starts_is_an_ordinary_error_response() {
    let server = TestServer::entrypoint(streaming_entrypoint_fn(
        |_payload: Value, _context| async move {
            Err::<stream::Empty<Result<Value, InvocationError>>, _>(
                InvocationError::InvalidPayload("no".into()),
            )
        },
    ))
    .await;
    let reply = server.invoke(Some("stream-3"), &json!({})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"error": "Invalid payload", "details": "no"})
    );
}

#[tokio::test]
async fn ping_stays_busy_while_a_stream_is_open() {
    let server = TestServer::entrypoint(streaming_entrypoint_fn(
        |_payload: Value, _context| async move {
            Ok(stream::iter(0..3).then(|n| async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok::<_, InvocationError>(n)
            }))
        },
    ))
    .await;
    let client = server.client.clone();
    let url = server.url("/invocations");
    let call = tokio::spawn(async move {
        client
            .post(url)
            .body("{}")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.ping_status().await, "HealthyBusy");
    let body = call.await.unwrap();
    assert_eq!(events(&body), vec![json!(0), json!(1), json!(2)]);
    // The server lets go of the stream just after its last bytes leave.
    let mut status = server.ping_status().await;
    for _ in 0..50 {
        if status == "Healthy" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        status = server.ping_status().await;
    }
    assert_eq!(status, "Healthy");
}
