//! The `agent-server` binary itself: start-up, offline replay, and Bedrock without credentials.

use std::path::Path;
use std::process::Command;

use crate::support::BINARY;
use agent_testkit::ServerProcess;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn replay_mode_answers_the_tutorial_offline() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let server = ServerProcess::start(BINARY, &["--replay", fixtures.to_str().unwrap()]);
    assert!(
        server.startup_line.contains("model=replay (9 recordings)"),
        "{}",
        server.startup_line
    );
    assert!(
        server.startup_line.contains("max_sessions=100000"),
        "{}",
        server.startup_line
    );

    let (status, answer) = server.ask("外の天気はどうですか?").await;
    assert_eq!(status, 200);
    assert!(answer.as_str().unwrap().contains("晴れ"), "{answer}");
    let (status, answer) = server.ask("2+5の答えは?").await;
    assert_eq!(
        (status, answer.as_str().unwrap()),
        (200, "Mairaさん、2+5の答えは7です。")
    );

    let (status, error) = server.ask("an unrecorded question").await;
    assert_eq!(status, 502);
    assert!(
        error["details"]
            .as_str()
            .unwrap()
            .contains("no recording answers this request"),
        "{error}"
    );
}

#[tokio::test]
async fn without_aws_credentials_it_starts_and_explains_how_to_configure_or_run_offline() {
    let server = ServerProcess::start(BINARY, &[]);
    assert!(
        server
            .startup_line
            .contains("bedrock:us.anthropic.claude-sonnet-4-20250514-v1:0"),
        "{}",
        server.startup_line
    );
    let (status, error) = server.ask("hello").await;
    assert_eq!(status, 502, "{error}");
    assert_eq!(error["error"], "Model error");
    let details = error["details"].as_str().unwrap();
    assert!(
        details.contains("no credentials found in chain"),
        "{details}"
    );
    assert!(
        !details.contains("ProviderAttempt"),
        "readable, not a Debug dump: {details}"
    );
    assert!(details.contains("--replay fixtures/tutorial"), "{details}");
}

#[tokio::test]
async fn the_standard_aws_endpoint_override_reaches_a_local_bedrock() {
    let bedrock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "output": {"message": {"role": "assistant", "content": [{"text": "Mairaさん、こんにちは。"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 5, "outputTokens": 5, "totalTokens": 10}
        })))
        .expect(1)
        .mount(&bedrock)
        .await;
    let server =
        ServerProcess::on_bedrock_at(BINARY, &bedrock.uri(), &["--model-streaming", "false"]);
    let (status, answer) = server.ask("hello").await;
    assert_eq!((status, answer), (200, json!("Mairaさん、こんにちは。")));
}

#[tokio::test]
async fn json_logs_have_the_reference_fields_and_no_secrets() {
    let server = json_logging_replay();
    let record: Value = serde_json::from_str(&server.startup_line).unwrap();
    assert_eq!(record["message"], "agent-server listening");
    assert_eq!(record["level"], "INFO");
    assert_eq!(record["logger"], "agent_server");

    let response = reqwest::Client::new()
        .post(format!("http://{}/invocations", server.address))
        .header("x-amzn-bedrock-agentcore-runtime-session-id", "binary-test")
        .header("Authorization", "Bearer secret-user-token")
        .header(
            "X-Amz-Bedrock-AgentCore-Identity-WAT",
            "secret-workload-token",
        )
        .json(&json!({"prompt": "外の天気はどうですか?", "user_id": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let finished: Value =
        serde_json::from_str(&server.log_line("invocation finished").await).unwrap();
    assert_eq!(finished["status"], 200);
    assert_eq!(finished["sessionId"], "binary-test");
    assert_eq!(finished["requestId"].as_str().map(str::len), Some(36));
    assert_eq!(finished["logger"], "agent_server::invocation");
    assert!(finished["timestamp"].as_str().unwrap().ends_with('Z'));

    assert_eq!(server.ask("an unrecorded question").await.0, 502);
    let failed: Value = serde_json::from_str(&server.log_line("invocation failed").await).unwrap();
    assert_eq!(failed["level"], "WARNING");
    assert_eq!(failed["errorType"], "ModelFailed");
    assert!(
        failed["errorMessage"]
            .as_str()
            .unwrap()
            .contains("no recording answers this request"),
        "{failed}"
    );
    for line in server.log_lines() {
        assert!(!line.contains("secret-"), "a secret in the logs: {line}");
    }
}

/// The binary answering from the tutorial's recordings, logging JSON lines.
fn json_logging_replay() -> ServerProcess {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    ServerProcess::start(
        BINARY,
        &[
            "--log-format",
            "json",
            "--replay",
            fixtures.to_str().unwrap(),
        ],
    )
}

/// A `/ws` message is an invocation like a POST: it gets its own `invocation finished` line.
#[tokio::test]
async fn a_websocket_invocation_is_logged_like_a_post() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let server = json_logging_replay();
    let mut request = format!("ws://{}/ws", server.address)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "x-amzn-bedrock-agentcore-runtime-session-id",
        "socket-session".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let payload = json!({"prompt": "外の天気はどうですか?", "user_id": "1"});
    socket
        .send(Message::text(payload.to_string()))
        .await
        .unwrap();
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message
            && serde_json::from_str::<Value>(&text).unwrap()["result"].is_object()
        {
            break;
        }
    }
    let finished: Value =
        serde_json::from_str(&server.log_line("invocation finished").await).unwrap();
    assert_eq!(finished["sessionId"], "socket-session");
    assert_eq!(finished["status"], 200);
    assert_eq!(finished["logger"], "agent_server::invocation");
}

/// The log is written by a thread of its own: under load none of it is dropped, and what is
/// still queued when the process stops is written out before it exits.
#[tokio::test]
async fn every_log_line_is_written_by_the_time_the_process_exits() {
    const INVOCATIONS: usize = 200;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let mut server = ServerProcess::start(BINARY, &["--replay", fixtures.to_str().unwrap()]);
    let sessions: Vec<String> = (0..INVOCATIONS).map(|n| format!("log-{n}")).collect();
    let answers = futures::future::join_all(
        sessions
            .iter()
            .map(|session| server.ask_in(session, "1", "外の天気はどうですか?")),
    )
    .await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );

    assert!(server.terminate().success());
    let log = server.whole_log();
    let finished = log
        .iter()
        .filter(|line| line.contains("invocation finished"))
        .count();
    assert_eq!(finished, INVOCATIONS, "{log:?}");
    assert!(
        log.last()
            .is_some_and(|line| line.contains("agent-server stopped")),
        "{log:?}"
    );
}

#[tokio::test]
async fn transparent_huge_pages_are_off_so_touched_memory_is_all_that_is_resident() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let server = ServerProcess::start(BINARY, &["--replay", fixtures.to_str().unwrap()]);
    let status = server.status();
    let setting = status
        .lines()
        .find_map(|line| line.strip_prefix("THP_enabled:"))
        .expect("a kernel that reports THP_enabled");
    assert_eq!(setting.trim(), "0", "{status}");
    assert_eq!(server.ask("外の天気はどうですか?").await.0, 200);
}

#[test]
fn a_bad_replay_folder_is_refused_at_start_up() {
    let output = Command::new(env!("CARGO_BIN_EXE_agent-server"))
        .args(["--port", "0", "--replay", "/nonexistent/scenario"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/scenario/recordings"),
        "{stderr}"
    );
}

#[test]
fn the_dockerfile_builds_with_the_readmes_build_command() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap();
    let build_command = |text: &str, prefix: &str| -> Vec<String> {
        text.lines()
            .filter_map(|line| line.trim().strip_prefix(prefix))
            .filter(|rest| rest.starts_with("cargo build"))
            .map(|rest| rest.split('#').next().unwrap().trim().to_owned())
            .collect()
    };
    let dockerfile = build_command(&read("Dockerfile"), "RUN ");
    let readme = build_command(&read("README.md"), "");
    assert_eq!(dockerfile.len(), 1, "one build command in the Dockerfile");
    assert!(
        readme.contains(&dockerfile[0]),
        "the Dockerfile runs `{}`, which the README does not show: {readme:?}",
        dockerfile[0]
    );
    assert!(dockerfile[0].contains("--release -p agent-server"));
}
