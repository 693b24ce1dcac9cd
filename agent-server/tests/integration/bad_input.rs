//! Bad input over HTTP, one table row at a time: each gets its status and a clear error, and
//! after every row the server still serves and an established session still has its history.

use std::sync::Arc;

use crate::support::{Reply, TestServer};
use agent_core::Message;
use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
use agent_core::session::SessionConfig;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::json;

/// Counts messages; a prompt `calc:<expr>` makes it call the calculator and report the result.
fn model() -> ScriptedModel {
    ScriptedModel::new(|messages: &[Message]| {
        let last = messages.last().expect("a request has messages");
        if let Some(result) = last.tool_results().next() {
            return Ok(text_response(&format!(
                "{:?}: {}",
                result.status,
                result.text()
            )));
        }
        let text = last.text();
        if let Some((_, rest)) = text.split_once("calc:") {
            let expression = rest.split('\n').next().unwrap_or_default();
            return Ok(tool_use_response(&[(
                "calc-1",
                "calculator",
                json!({ "expression": expression }),
            )]));
        }
        Ok(text_response(&format!("{} messages", messages.len())))
    })
}

/// What a row sends.
enum Send {
    /// Raw body with an optional Content-Type, on session `anchor`.
    Body(&'static str, Vec<u8>),
    /// A valid tutorial payload under a raw session header value.
    Session(Vec<u8>),
    /// A valid tutorial payload on session `anchor` under a raw runtime user id header value.
    UserId(Vec<u8>),
    /// A prompt to the calculator on its own session.
    Calculate(String),
    /// Another method or path.
    Route(reqwest::Method, &'static str),
}

struct Row {
    name: &'static str,
    send: Send,
    status: u16,
    /// Text the response must contain (the error field, details, or the answer).
    says: &'static str,
}

fn body(content_type: &'static str, text: &str) -> Send {
    Send::Body(content_type, text.as_bytes().to_vec())
}

fn rows() -> Vec<Row> {
    let deep_json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let big_prompt = format!(
        r#"{{"prompt": "{}", "user_id": "1"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    vec![
        Row {
            name: "invalid JSON",
            send: body("application/json", r#"{"prompt": "#),
            status: 400,
            says: r#""error":"Invalid JSON""#,
        },
        Row {
            name: "empty body",
            send: body("application/json", ""),
            status: 400,
            says: "the body is empty",
        },
        Row {
            name: "JSON nested 10,000 deep",
            send: Send::Body("application/json", deep_json.into_bytes()),
            status: 400,
            says: "recursion limit exceeded",
        },
        Row {
            name: "JSON array",
            send: body("application/json", "[1, 2]"),
            status: 400,
            says: "must be a JSON object",
        },
        Row {
            name: "JSON string",
            send: body("application/json", r#""hello""#),
            status: 400,
            says: "must be a JSON object",
        },
        Row {
            name: "missing prompt",
            send: body("application/json", r#"{"user_id": "1"}"#),
            status: 400,
            says: r#"\"prompt\" is required"#,
        },
        Row {
            name: "non-string prompt",
            send: body("application/json", r#"{"prompt": 42, "user_id": "1"}"#),
            status: 400,
            says: r#"\"prompt\" must be a string"#,
        },
        Row {
            name: "empty prompt",
            send: body("application/json", r#"{"prompt": "", "user_id": "1"}"#),
            status: 400,
            says: r#"\"prompt\" must not be empty"#,
        },
        Row {
            name: "missing user_id",
            send: body("application/json", r#"{"prompt": "hi"}"#),
            status: 400,
            says: r#"\"user_id\" is required; known user ids: \"1\" (Maira), \"2\" (Mani)"#,
        },
        Row {
            name: "unknown user_id",
            send: body("application/json", r#"{"prompt": "hi", "user_id": "99"}"#),
            status: 400,
            says: r#"unknown user_id \"99\""#,
        },
        Row {
            name: "non-string user_id",
            send: body("application/json", r#"{"prompt": "hi", "user_id": 1}"#),
            status: 400,
            says: r#"\"user_id\" must be a string"#,
        },
        Row {
            name: "2 MiB body over a 1 MiB limit",
            send: Send::Body("application/json", big_prompt.into_bytes()),
            status: 413,
            says: "exceeds the limit of 1048576 bytes",
        },
        Row {
            name: "empty session id",
            send: Send::Session(Vec::new()),
            status: 400,
            says: "session id is empty",
        },
        Row {
            name: "257-character session id",
            send: Send::Session(vec![b'a'; 257]),
            status: 400,
            says: "257 characters long; at most 256",
        },
        Row {
            name: "control character in session id",
            send: Send::Session(b"anchor\tx".to_vec()),
            status: 400,
            says: "control character",
        },
        Row {
            name: "non-UTF-8 session id",
            send: Send::Session(vec![b'a', 0xff, 0xfe]),
            status: 400,
            says: "not valid UTF-8",
        },
        Row {
            name: "non-UTF-8 runtime user id",
            send: Send::UserId(vec![b'u', 0xff]),
            status: 400,
            says: r#""error":"Invalid user id","details":"the user id header is not valid UTF-8""#,
        },
        Row {
            name: "257-character runtime user id",
            send: Send::UserId(vec![b'u'; 257]),
            status: 400,
            says: "user id is 257 characters long",
        },
        Row {
            name: "huge expression",
            send: Send::Calculate(format!("1{}", "+1".repeat(2_500))),
            status: 200,
            says: "Error: Error: the expression is 5001 characters long; at most 1000 are allowed",
        },
        Row {
            name: "deeply nested expression",
            send: Send::Calculate(format!("{}1{}", "(".repeat(200), ")".repeat(200))),
            status: 200,
            says: "nests parentheses 200 deep",
        },
        Row {
            name: "non-finite expression",
            send: Send::Calculate("1/0".into()),
            status: 200,
            says: "`1/0` has no finite value (division by zero or overflow)",
        },
        Row {
            name: "not arithmetic",
            send: Send::Calculate("rm -rf /".into()),
            status: 200,
            says: "Error: Error: cannot evaluate `rm -rf /`",
        },
        Row {
            name: "text/plain with a JSON body is read as JSON",
            send: body("text/plain", r#"{"prompt": "hi", "user_id": "1"}"#),
            status: 200,
            says: "messages",
        },
        Row {
            name: "multipart body",
            send: body(
                "multipart/form-data; boundary=x",
                "--x\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhi\r\n--x--",
            ),
            status: 400,
            says: r#""error":"Invalid JSON""#,
        },
        Row {
            name: "wrong method",
            send: Send::Route(reqwest::Method::PUT, "/invocations"),
            status: 405,
            says: "PUT /invocations is not served; use POST",
        },
        Row {
            name: "unknown route",
            send: Send::Route(reqwest::Method::POST, "/invoke"),
            status: 404,
            says: "no route /invoke",
        },
    ]
}

async fn send(server: &TestServer, send: Send) -> Reply {
    let invocations = server.url("/invocations");
    let request = match send {
        Send::Body(content_type, bytes) => server
            .client
            .post(invocations)
            .header("x-amzn-bedrock-agentcore-runtime-session-id", "anchor")
            .header(CONTENT_TYPE, content_type)
            .body(bytes),
        Send::Session(raw) => server
            .client
            .post(invocations)
            .header(
                "x-amzn-bedrock-agentcore-runtime-session-id",
                HeaderValue::from_bytes(&raw).unwrap(),
            )
            .json(&json!({"prompt": "hi", "user_id": "1"})),
        Send::UserId(raw) => server
            .client
            .post(invocations)
            .header("x-amzn-bedrock-agentcore-runtime-session-id", "anchor")
            .header(
                "x-amzn-bedrock-agentcore-runtime-user-id",
                HeaderValue::from_bytes(&raw).unwrap(),
            )
            .json(&json!({"prompt": "hi", "user_id": "1"})),
        Send::Calculate(expression) => server
            .client
            .post(invocations)
            .header("x-amzn-bedrock-agentcore-runtime-session-id", "calculator")
            .json(&json!({"prompt": format!("calc:{expression}"), "user_id": "1"})),
        Send::Route(method, path) => server.client.request(method, server.url(path)),
    };
    Reply::from(request.send().await.unwrap()).await
}

/// The anchor session's history, read straight from the store.
async fn anchor_history(server: &TestServer) -> Vec<Message> {
    let history = server.history("anchor", "1").await.unwrap();
    history.messages().to_vec()
}

#[tokio::test]
async fn every_bad_input_gets_its_status_and_leaves_sessions_intact() {
    let server = TestServer::tutorial_with(Arc::new(model()), SessionConfig::default(), |app| {
        app.with_max_body_bytes(1024 * 1024)
    })
    .await;
    assert_eq!(
        server.ask("anchor", "1", "first").await.text(),
        "1 messages"
    );

    for row in rows() {
        let before = anchor_history(&server).await;
        let reply = send(&server, row.send).await;
        let body = String::from_utf8_lossy(&reply.bytes).into_owned();
        assert_eq!(reply.status, row.status, "{}: {body}", row.name);
        assert!(body.contains(row.says), "{}: {body:.300}", row.name);
        if row.status >= 400 {
            assert!(
                reply.json()["error"].is_string(),
                "{}: JSON error body",
                row.name
            );
            assert_eq!(
                anchor_history(&server).await,
                before,
                "{}: the anchor session is untouched",
                row.name
            );
        }
        let check = server.ask("anchor", "1", "still there?").await;
        assert_eq!(check.status, 200, "after {}: still serving", row.name);
    }
    assert_eq!(
        server.memory.as_ref().unwrap().len(),
        2,
        "bad input created no session (anchor, calculator)"
    );
}

#[tokio::test]
async fn the_default_body_limit_is_the_services_100_mib() {
    let server = TestServer::tutorial(Arc::new(model()), SessionConfig::default()).await;
    let payload = |prompt_bytes: usize| {
        format!(
            r#"{{"prompt": "{}", "user_id": "1"}}"#,
            "x".repeat(prompt_bytes)
        )
    };
    let send = |body: String| {
        server
            .client
            .post(server.url("/invocations"))
            .header("x-amzn-bedrock-agentcore-runtime-session-id", "large")
            .body(body)
            .send()
    };
    let accepted = Reply::from(send(payload(2 * 1024 * 1024)).await.unwrap()).await;
    assert_eq!(accepted.status, 200, "a 2 MiB payload is served");
    let refused = Reply::from(send(payload(100 * 1024 * 1024)).await.unwrap()).await;
    assert_eq!(refused.status, 413);
    assert_eq!(
        refused.json()["details"],
        "the body exceeds the limit of 104857600 bytes"
    );
    assert_eq!(
        server.history("large", "1").await.unwrap().len(),
        2,
        "only the accepted invocation was kept"
    );
}
