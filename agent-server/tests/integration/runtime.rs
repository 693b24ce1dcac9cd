//! The AgentCore contract over real HTTP: shapes, sessions, concurrency, errors, ping, shutdown.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{GatedModel, Reply, TestServer};
use agent_core::scripted::{ScriptedModel, text_response};
use agent_core::session::{MemorySessionStore, SessionConfig, SessionStore};
use agent_core::{Message, ModelError};
use agent_server::{
    AgentCoreApp, InvocationError, SESSION_ID_HEADER, USER_ID_HEADER, entrypoint_fn,
};
use serde_json::{Value, json};

/// A model that says how many messages it was sent and the user's name from the last prompt.
fn counting_model() -> ScriptedModel {
    ScriptedModel::new(|messages: &[Message]| {
        let last = messages.last().map(Message::text).unwrap_or_default();
        let name = ["Maira", "Mani", "Mark"]
            .into_iter()
            .find(|name| last.contains(name))
            .unwrap_or("?");
        Ok(text_response(&format!(
            "{name}: {} messages, 晴れ",
            messages.len()
        )))
    })
}

async fn tutorial_server(model: ScriptedModel) -> TestServer {
    TestServer::tutorial(Arc::new(model), SessionConfig::default()).await
}

#[tokio::test]
async fn a_string_result_is_a_json_string_in_utf8_with_the_session_header() {
    let server = tutorial_server(counting_model()).await;
    let reply = server.ask("session-a", "1", "天気は?").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.session_id(), Some("session-a"));
    assert_eq!(
        reply.bytes,
        "\"Maira: 1 messages, 晴れ\"".as_bytes(),
        "UTF-8, not \\u escapes"
    );
    assert!(
        reply
            .header("x-amzn-bedrock-agentcore-runtime-request-id")
            .is_some()
    );
}

#[tokio::test]
async fn a_request_without_a_session_header_gets_a_new_session_id() {
    let server = tutorial_server(counting_model()).await;
    let payload = json!({"prompt": "hi", "user_id": "1"});
    let first = server.invoke(None, &payload).await;
    let second = server.invoke(None, &payload).await;
    assert_eq!((first.status, second.status), (200, 200));
    let (first_id, second_id) = (first.session_id().unwrap(), second.session_id().unwrap());
    assert_eq!(first_id.len(), 36);
    assert_ne!(first_id, second_id);
    assert_eq!(
        second.text(),
        "Maira: 1 messages, 晴れ",
        "a new session has no history"
    );
    let again = server.ask(first_id, "1", "and now?").await;
    assert_eq!(
        again.text(),
        "Maira: 3 messages, 晴れ",
        "the returned id continues the session"
    );
}

#[tokio::test]
async fn sessions_continue_and_stay_isolated() {
    let model = counting_model();
    let server = tutorial_server(model.clone()).await;
    assert_eq!(
        server.ask("s1", "1", "one").await.text(),
        "Maira: 1 messages, 晴れ"
    );
    assert_eq!(
        server.ask("s1", "1", "two").await.text(),
        "Maira: 3 messages, 晴れ"
    );
    assert_eq!(
        server.ask("s2", "1", "three").await.text(),
        "Maira: 1 messages, 晴れ"
    );
    assert_eq!(
        server.ask("s3", "2", "four").await.text(),
        "Mani: 1 messages, 晴れ"
    );
    assert_eq!(
        server.ask("s1", "1", "five").await.text(),
        "Maira: 5 messages, 晴れ"
    );

    let requests = model.requests();
    let s2_request = &requests[2];
    assert_eq!(s2_request.len(), 1);
    assert!(s2_request[0].text().contains("これはセッション s2 です"));
    assert!(!s2_request[0].text().contains("s1"));
    assert_eq!(server.memory.as_ref().unwrap().len(), 3);
}

#[tokio::test]
async fn a_session_belongs_to_its_user() {
    let model = counting_model();
    let server = tutorial_server(model.clone()).await;
    assert_eq!(
        server.ask("S", "1", "2+5").await.text(),
        "Maira: 1 messages, 晴れ"
    );
    assert_eq!(
        server.ask("S", "2", "add 34 to that").await.text(),
        "Mani: 1 messages, 晴れ",
        "another user's guess of the id opens a fresh session"
    );
    let leaked = model.requests()[1]
        .iter()
        .any(|message| message.text().contains("2+5"));
    assert!(!leaked, "user 1's prompt never reached user 2's request");
    assert_eq!(
        server.ask("S", "1", "and then?").await.text(),
        "Maira: 3 messages, 晴れ"
    );
    assert_eq!(server.history("S", "1").await.unwrap().len(), 4);
    assert_eq!(server.history("S", "2").await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_runtime_user_id_header_scopes_the_sessions_of_any_agent() {
    let store = Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let server = TestServer::entrypoint(entrypoint_fn(move |payload: Value, context| {
        let store = store.clone();
        async move {
            let mut turn = store.checkout(&context.session_key()).await?;
            let said = payload["prompt"].as_str().unwrap_or_default().to_owned();
            turn.push(Message::user(said));
            let heard: Vec<String> = turn
                .conversation()
                .messages()
                .iter()
                .map(Message::text)
                .collect();
            turn.commit().await?;
            Ok(heard)
        }
    }))
    .await;
    let say = |user: Option<&'static str>, prompt: &'static str| {
        let mut request = server
            .client
            .post(server.url("/invocations"))
            .header(SESSION_ID_HEADER, "one-id")
            .json(&json!({ "prompt": prompt }));
        if let Some(user) = user {
            request = request.header(USER_ID_HEADER, user);
        }
        async move { Reply::from(request.send().await.unwrap()).await.json() }
    };
    assert_eq!(say(Some("alice"), "a1").await, json!(["a1"]));
    assert_eq!(say(Some("bob"), "b1").await, json!(["b1"]));
    assert_eq!(say(None, "n1").await, json!(["n1"]));
    assert_eq!(say(Some("alice"), "a2").await, json!(["a1", "a2"]));
    assert_eq!(say(None, "n2").await, json!(["n1", "n2"]));
}

#[tokio::test]
async fn the_context_carries_ids_and_forwarded_headers() {
    let server = TestServer::entrypoint(entrypoint_fn(|payload: Value, context| async move {
        Ok(json!({
            "payload": payload,
            "session_id": context.session_id.as_str(),
            "request_id": context.request_id,
            "headers": context.request_headers,
        }))
    }))
    .await;
    let reply = server
        .client
        .post(server.url("/invocations"))
        .header("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", "ctx-session")
        .header("X-Amzn-Bedrock-AgentCore-Runtime-Request-Id", "req-7")
        .header("Authorization", "Bearer abc")
        .header("X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant", "acme")
        .header("X-Amz-Security-Token", "secret")
        .header("Cookie", "c=1")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(r#"{"x": 1}"#)
        .send()
        .await
        .unwrap();
    let reply = Reply::from(reply).await;
    assert_eq!(
        reply.status, 200,
        "JSON is read whatever the Content-Type says"
    );
    assert_eq!(
        reply.json(),
        json!({
            "payload": {"x": 1},
            "session_id": "ctx-session",
            "request_id": "req-7",
            "headers": {
                "Authorization": "Bearer abc",
                "x-amzn-bedrock-agentcore-runtime-custom-tenant": "acme"
            }
        })
    );
    assert_eq!(
        reply.header("x-amzn-bedrock-agentcore-runtime-request-id"),
        Some("req-7")
    );
}

#[tokio::test]
async fn concurrent_invocations_on_one_session_both_succeed_in_arrival_order() {
    let model = GatedModel::new();
    let server =
        Arc::new(TestServer::tutorial(Arc::new(model.clone()), SessionConfig::default()).await);
    let first = tokio::spawn({
        let server = server.clone();
        async move { server.ask("shared", "1", "first").await }
    });
    model.wait_for_calls(1).await;
    let second = tokio::spawn({
        let server = server.clone();
        async move { server.ask("shared", "1", "second").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        model.unclaimed_calls(),
        0,
        "the second must not reach the model while the first runs"
    );
    model.release(1);
    let first = first.await.unwrap();
    model.wait_for_calls(1).await;
    model.release(1);
    let second = second.await.unwrap();
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(first.text(), "1 messages");
    assert_eq!(
        second.text(),
        "3 messages",
        "the second waited for the first and saw its history"
    );
}

#[tokio::test]
async fn different_sessions_run_in_parallel() {
    // All eight invocations must be inside the model at once before any may answer.
    let model = GatedModel::new();
    let server =
        Arc::new(TestServer::tutorial(Arc::new(model.clone()), SessionConfig::default()).await);
    let calls: Vec<_> = (0..8)
        .map(|n| {
            let server = server.clone();
            tokio::spawn(async move { server.ask(&format!("p{n}"), "1", "hi").await })
        })
        .collect();
    model.wait_for_calls(8).await;
    model.release(8);
    for call in calls {
        assert_eq!(call.await.unwrap().text(), "1 messages");
    }
}

#[tokio::test]
async fn ping_is_busy_while_an_invocation_runs() {
    let model = GatedModel::new();
    let server =
        Arc::new(TestServer::tutorial(Arc::new(model.clone()), SessionConfig::default()).await);
    assert_eq!(server.ping_status().await, "Healthy");
    let call = tokio::spawn({
        let server = server.clone();
        async move { server.ask("slow", "1", "hi").await }
    });
    model.wait_for_calls(1).await;
    assert_eq!(server.ping_status().await, "HealthyBusy");
    model.release(1);
    assert_eq!(call.await.unwrap().status, 200);
    let ping = server.ping().await;
    assert_eq!(ping["status"], "Healthy");
    assert!(ping["time_of_last_update"].as_u64().unwrap() > 1_700_000_000);
}

#[tokio::test]
async fn tracked_background_work_keeps_ping_busy() {
    let app = AgentCoreApp::new(entrypoint_fn(|_payload: Value, _context| async {
        Ok("ok")
    }));
    let guard = app.health().track();
    let server = TestServer::start(app).await;
    assert_eq!(server.ping_status().await, "HealthyBusy");
    drop(guard);
    assert_eq!(server.ping_status().await, "Healthy");
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_invocation_finish() {
    let model = GatedModel::new();
    let server = TestServer::tutorial(Arc::new(model.clone()), SessionConfig::default()).await;
    let client = server.client.clone();
    let url = server.url("/invocations");
    let call = tokio::spawn(async move {
        let response = client
            .post(url)
            .header("x-amzn-bedrock-agentcore-runtime-session-id", "draining")
            .json(&json!({"prompt": "hi", "user_id": "1"}))
            .send()
            .await
            .unwrap();
        Reply::from(response).await
    });
    model.wait_for_calls(1).await;
    let mut server = server;
    server.request_stop();
    // Shutdown has begun once the listener is gone: new connections are refused.
    let address = server.address;
    tokio::time::timeout(Duration::from_secs(10), async move {
        while tokio::net::TcpStream::connect(address).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the listener closes on shutdown");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !server.has_stopped(),
        "serve returned with an invocation in flight"
    );
    model.release(1);
    server.shut_down().await;
    let reply = call.await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "1 messages");
}

#[tokio::test]
async fn the_model_errors_map_to_statuses_and_leave_the_session_intact() {
    let cases: Vec<(ModelError, u16, &str)> = vec![
        (
            ModelError::Throttled {
                message: "Too many requests".into(),
            },
            429,
            "Model throttled",
        ),
        (
            ModelError::Unavailable {
                status: 500,
                message: "InternalServerException".into(),
            },
            502,
            "Model error",
        ),
        (
            ModelError::Rejected {
                message: "AccessDeniedException".into(),
            },
            502,
            "Model error",
        ),
        (
            ModelError::Connection {
                message: "no credentials".into(),
            },
            502,
            "Model error",
        ),
        (
            ModelError::Timeout(Duration::from_secs(1)),
            504,
            "Model timeout",
        ),
    ];
    for (error, status, title) in cases {
        let failing = std::sync::atomic::AtomicBool::new(false);
        let failing = Arc::new(failing);
        let switch = failing.clone();
        let model = ScriptedModel::new(move |messages: &[Message]| {
            if switch.load(std::sync::atomic::Ordering::SeqCst) {
                Err(error.clone())
            } else {
                Ok(text_response(&format!("{} messages", messages.len())))
            }
        });
        let server = tutorial_server(model).await;
        assert_eq!(server.ask("kept", "1", "one").await.text(), "1 messages");
        failing.store(true, std::sync::atomic::Ordering::SeqCst);
        let reply = server.ask("kept", "1", "two").await;
        assert_eq!(reply.status, status, "{title}");
        assert_eq!(reply.json()["error"], title);
        assert_eq!(reply.session_id(), Some("kept"));
        if status == 429 {
            assert_eq!(reply.header("retry-after"), Some("1"));
        }
        failing.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            server.ask("kept", "1", "three").await.text(),
            "3 messages",
            "{title}: history intact"
        );
    }
}

#[tokio::test]
async fn an_unreachable_model_explains_how_to_configure_aws_or_run_offline() {
    let model = ScriptedModel::new(|_: &[Message]| {
        Err(ModelError::Connection {
            message: "failed to load credentials".into(),
        })
    });
    let server = tutorial_server(model).await;
    let reply = server.ask("s", "1", "hi").await;
    assert_eq!(reply.status, 502);
    let details = reply.json()["details"].as_str().unwrap().to_owned();
    assert!(
        details.contains("AWS_REGION") && details.contains("--replay fixtures/tutorial"),
        "{details}"
    );
}

#[tokio::test]
async fn the_session_cap_answers_503_and_existing_sessions_keep_working() {
    let config = SessionConfig {
        max_sessions: 2,
        ..SessionConfig::default()
    };
    let server = TestServer::tutorial(Arc::new(counting_model()), config).await;
    assert_eq!(server.ask("a", "1", "hi").await.status, 200);
    assert_eq!(server.ask("b", "1", "hi").await.status, 200);
    let refused = server.ask("c", "1", "hi").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["error"], "Service unavailable");
    assert!(
        refused.json()["details"]
            .as_str()
            .unwrap()
            .contains("maximum of 2 live sessions")
    );
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=15 * 60).contains(&retry_after),
        "when the oldest idle session ends: {retry_after}"
    );
    assert_eq!(
        server.ask("a", "1", "again").await.text(),
        "Maira: 3 messages, 晴れ"
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let server = tutorial_server(counting_model()).await;
    let missing = Reply::from(server.client.get(server.url("/nope")).send().await.unwrap()).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "Not found");
    let wrong = Reply::from(
        server
            .client
            .get(server.url("/invocations"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.json()["error"], "Method not allowed");
    assert_eq!(
        wrong.json()["details"],
        "GET /invocations is not served; use POST"
    );
    let ping = Reply::from(
        server
            .client
            .post(server.url("/ping"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ping.status, 405);
}

#[tokio::test]
async fn entrypoint_errors_keep_their_status() {
    let server = TestServer::entrypoint(entrypoint_fn(|_payload: Value, _context| async {
        Err::<String, _>(InvocationError::InvalidPayload("nope".into()))
    }))
    .await;
    let reply = server.invoke(Some("x"), &json!({})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"error": "Invalid payload", "details": "nope"})
    );
}

#[tokio::test]
async fn a_session_whose_line_is_full_answers_429_at_once() {
    let model = GatedModel::new();
    let config = SessionConfig {
        max_waiting: 2,
        ..SessionConfig::default()
    };
    let server = Arc::new(TestServer::tutorial(Arc::new(model.clone()), config).await);
    let ask = |prompt: &'static str| {
        let server = server.clone();
        tokio::spawn(async move { server.ask("full", "1", prompt).await })
    };
    let mut accepted = vec![ask("first")];
    model.wait_for_calls(1).await;
    accepted.push(ask("second"));
    accepted.push(ask("third"));
    let key = agent_core::session::SessionKey::new(
        agent_core::session::SessionOwner::user("1"),
        agent_core::session::SessionId::parse("full").unwrap(),
    );
    let memory = server.memory.clone().unwrap();
    let started = std::time::Instant::now();
    while memory.waiting(&key) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the waiters never queued"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let refused = server.ask("full", "1", "one too many").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["error"], "Session busy");
    assert!(
        refused.json()["details"]
            .as_str()
            .unwrap()
            .contains("already has 2 invocations waiting"),
        "{}",
        refused.json()
    );
    assert_eq!(refused.header("retry-after"), Some("5"));
    assert_eq!(server.ping_status().await, "HealthyBusy", "/ping answers");

    model.release(3);
    for reply in accepted {
        assert_eq!(reply.await.unwrap().status, 200);
    }
    let history = server.history("full", "1").await.unwrap();
    assert_eq!(
        history.len(),
        6,
        "three served in turn, the refused one left no trace"
    );
}

#[tokio::test]
async fn invocations_past_the_in_flight_cap_answer_503_at_once() {
    let model = GatedModel::new();
    let entrypoint = agent_server::tutorial::TutorialEntrypoint::with_model(
        Arc::new(model.clone()),
        agent_tools::Clock::Local,
        crate::support::test_agent_config(),
        Arc::new(MemorySessionStore::new(SessionConfig::default())),
    );
    let server =
        Arc::new(TestServer::start(AgentCoreApp::new(entrypoint).with_max_in_flight(2)).await);
    let held: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|session| {
            let server = server.clone();
            tokio::spawn(async move { server.ask(session, "1", "hold").await })
        })
        .collect();
    model.wait_for_calls(2).await;

    let refused = server.ask("c", "1", "one more").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["error"], "Server busy");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(server.ping_status().await, "HealthyBusy", "/ping answers");

    model.release(2);
    for reply in held {
        assert_eq!(reply.await.unwrap().status, 200);
    }
    model.release(1);
    assert_eq!(server.ask("c", "1", "now").await.status, 200);
}
