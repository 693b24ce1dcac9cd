//! Parity with the reference SDK 1.25's contract, over a real bound server: the context an
//! entrypoint sees (the `context_echo` example itself), an entrypoint's own responses and
//! statuses, and an app's own `/ping` status.

#[allow(dead_code)]
#[path = "../../examples/context_echo.rs"]
mod context_echo;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::{Reply, TestServer};
use agent_server::{AgentCoreApp, InvocationError, Output, Status, entrypoint_fn};
use axum::http::StatusCode;
use serde_json::{Value, json};

async fn echo(server: &TestServer, headers: &[(&str, &str)]) -> Value {
    let mut request = server.client.post(server.url("/invocations")).body("{}");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let reply = Reply::from(request.send().await.unwrap()).await;
    assert_eq!(reply.status, 200);
    reply.json()
}

#[tokio::test]
async fn the_context_follows_the_sdk_header_rule_field_by_field() {
    let server = TestServer::entrypoint(context_echo::context_echo()).await;
    let context = echo(
        &server,
        &[
            (
                "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id",
                "session-0001",
            ),
            (
                "X-Amzn-Bedrock-AgentCore-Runtime-Request-Id",
                "request-0001",
            ),
            ("authorization", "Bearer user-token"),
            ("X-Api-Key", "key-1"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("baggage", "enduser.id=alice"),
            ("X-Application-Header", "app"),
            ("User-Agent", "contract-test"),
            ("Cookie", "a=b"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("X-Amz-Date", "20260101T000000Z"),
            ("X-Amz-Security-Token", "sts"),
            ("X-Amz-Bedrock-AgentCore-Identity-WAT", "wat-token"),
            ("WorkloadAccessToken", "older-token"),
            ("OAuth2CallbackUrl", "https://example.com/callback"),
            (
                "X-Amzn-Trace-Id",
                "Root=1-00000000-000000000000000000000000",
            ),
            ("X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant", "acme"),
            ("X-Amzn-Bedrock-AgentCore-Runtime-User-Id", "alice"),
        ],
    )
    .await;
    assert_eq!(context["session_id"], "session-0001");
    assert_eq!(context["request_id"], "request-0001");
    assert_eq!(
        context["workload_access_token"], "wat-token",
        "the WAT header wins"
    );
    assert_eq!(
        context["oauth2_callback_url"],
        "https://example.com/callback"
    );
    assert_eq!(
        context["request_headers"],
        json!({
            "Authorization": "Bearer user-token",
            "x-api-key": "key-1",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "baggage": "enduser.id=alice",
            "x-application-header": "app",
            "x-amz-bedrock-agentcore-identity-wat": "wat-token",
            "workloadaccesstoken": "older-token",
            "oauth2callbackurl": "https://example.com/callback",
            "x-amzn-bedrock-agentcore-runtime-custom-tenant": "acme",
        }),
        "restricted, x-amz-* and x-amzn-* headers stay out; request's own transport headers too"
    );

    let fallback = echo(&server, &[("WorkloadAccessToken", "older-token")]).await;
    assert_eq!(fallback["workload_access_token"], "older-token");
    assert_eq!(fallback["oauth2_callback_url"], Value::Null);
    assert!(
        fallback["request_id"]
            .as_str()
            .is_some_and(|id| id.len() == 36),
        "a request id is generated: {fallback}"
    );
}

#[tokio::test]
async fn an_entrypoint_answers_with_its_own_response_or_its_own_error_status() {
    let server = TestServer::entrypoint(own_responses()).await;
    let ask = |kind: &'static str| {
        let request = server
            .client
            .post(server.url("/invocations"))
            .header(
                "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id",
                "own-responses",
            )
            .json(&json!({ "kind": kind }));
        async move { Reply::from(request.send().await.unwrap()).await }
    };
    let accepted = ask("accepted").await;
    assert_eq!(accepted.status, 202);
    assert_eq!(accepted.header("location"), Some("/jobs/7"));
    assert_eq!(
        accepted.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(accepted.bytes, b"queued");
    assert_eq!(
        accepted.session_id(),
        Some("own-responses"),
        "the runtime still adds its headers"
    );

    let forbidden = ask("forbidden").await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.json(), json!({"error": "tenant suspended"}));
}

/// Answers `{"kind": "accepted"}` with its own 202 and `{"kind": "forbidden"}` with a 403.
fn own_responses() -> impl agent_server::Entrypoint {
    struct Own;
    #[async_trait::async_trait]
    impl agent_server::Entrypoint for Own {
        async fn invoke(
            &self,
            payload: Value,
            _context: agent_server::RuntimeContext,
        ) -> Result<Output, InvocationError> {
            match payload["kind"].as_str() {
                Some("accepted") => Ok(Output::response((
                    StatusCode::ACCEPTED,
                    [("location", "/jobs/7")],
                    "queued",
                ))),
                _ => Err(InvocationError::with_status(
                    StatusCode::FORBIDDEN,
                    "tenant suspended",
                )),
            }
        }
    }
    Own
}

#[tokio::test]
async fn ping_reports_the_apps_own_status_and_a_forced_one() {
    let draining = Arc::new(AtomicBool::new(false));
    let says = draining.clone();
    let app = AgentCoreApp::new(entrypoint_fn(|_payload, _context| async { Ok("ok") }))
        .with_ping_handler(move || says.load(Ordering::SeqCst).then_some(Status::HealthyBusy));
    let health = app.health().clone();
    let server = TestServer::start(app).await;
    let ping = || async {
        let reply = Reply::from(server.client.get(server.url("/ping")).send().await.unwrap()).await;
        reply.json()["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(ping().await, "Healthy");
    draining.store(true, Ordering::SeqCst);
    assert_eq!(ping().await, "HealthyBusy", "the app's handler");
    health.force(Status::Healthy);
    assert_eq!(ping().await, "Healthy", "forced over the handler");
    health.clear_forced();
    assert_eq!(ping().await, "HealthyBusy");
}

/// An entrypoint that panics on `{"panic": true}` and echoes the prompt otherwise.
fn panicking() -> impl agent_server::Entrypoint {
    entrypoint_fn(|payload: Value, _context| async move {
        if payload["panic"] == true {
            panic!("the entrypoint fell over");
        }
        Ok(payload["prompt"].clone())
    })
}

#[tokio::test]
async fn a_panicking_entrypoint_answers_500_and_the_server_serves_on() {
    let server = TestServer::entrypoint(panicking()).await;
    let panicked = server.invoke(Some("s-1"), &json!({"panic": true})).await;
    assert_eq!(panicked.status, 500);
    assert_eq!(panicked.json()["error"], "Internal error");
    let details = panicked.json()["details"].as_str().unwrap().to_owned();
    assert!(details.contains("the entrypoint fell over"), "{details}");
    assert_eq!(panicked.session_id(), Some("s-1"));

    let served = server
        .invoke(Some("s-1"), &json!({"prompt": "again"}))
        .await;
    assert_eq!((served.status, served.json()), (200, json!("again")));
    assert_eq!(server.ping_status().await, "Healthy");
}

#[tokio::test]
async fn a_panic_on_the_socket_is_an_error_event_and_the_socket_stays_open() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::entrypoint(panicking()).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.address))
        .await
        .unwrap();
    for (payload, expected) in [
        (json!({"panic": true}), None),
        (json!({"prompt": "still here"}), Some(json!("still here"))),
    ] {
        socket
            .send(Message::text(payload.to_string()))
            .await
            .unwrap();
        let event = next_event(&mut socket).await;
        match expected {
            Some(answer) => assert_eq!(event, answer),
            None => assert_eq!(event["error_type"], "Internal", "{event}"),
        }
    }
}

/// The next JSON text message on a socket; a close fails the test.
async fn next_event<S>(socket: &mut S) -> Value
where
    S: futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("the socket closed: {frame:?}"),
            _ => {}
        }
    }
}
