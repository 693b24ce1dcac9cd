//! `agent-server --agent FILE.toml`: the binary serving an agent defined in a file, through the
//! real AWS SDK against wiremock as Bedrock, and refusing bad files at start-up.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::BINARY;
use agent_testkit::ServerProcess;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn shipped_agent_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("agents/assistant.toml")
}

#[tokio::test]
async fn the_shipped_agent_file_reaches_bedrock_as_written() {
    let bedrock = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "output": {"message": {"role": "assistant", "content": [{"text": "Hello."}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7}
        })))
        .mount(&bedrock)
        .await;
    let file = shipped_agent_file();
    let server = ServerProcess::on_bedrock_at(
        BINARY,
        &bedrock.uri(),
        &[
            "--agent",
            file.to_str().unwrap(),
            "--model-streaming",
            "false",
        ],
    );
    assert!(
        server.startup_line.contains("assistant.toml"),
        "{}",
        server.startup_line
    );
    let ask = |prompt: &'static str| {
        reqwest::Client::new()
            .post(format!("http://{}/invocations", server.address))
            .header(
                "x-amzn-bedrock-agentcore-runtime-session-id",
                "agent-file-1",
            )
            .header("x-amzn-bedrock-agentcore-runtime-user-id", "alice")
            .json(&json!({"prompt": prompt, "ignored": true}))
            .send()
    };
    for prompt in ["hi", "again"] {
        let response = ask(prompt).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap(), "Hello.");
    }

    let requests = bedrock.received_requests().await.unwrap();
    assert_eq!(
        requests[0].url.path(),
        "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
    );
    let first: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        first["system"],
        json!([{"text": "You are a concise assistant. Use the calculator for arithmetic and get_time for the date and time."}])
    );
    let tools: Vec<&str> = first["toolConfig"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["toolSpec"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["calculator", "get_time"]);
    let inference = &first["inferenceConfig"];
    assert_eq!(inference["maxTokens"], 512);
    assert_eq!(inference["stopSequences"], json!(["###"]));
    // The SDK holds these as f32 and writes them out as such.
    let as_f32 = |value: &Value| value.as_f64().unwrap() as f32;
    assert_eq!(as_f32(&inference["temperature"]), 0.2);
    assert_eq!(as_f32(&inference["topP"]), 0.9);
    assert_eq!(inference.as_object().unwrap().len(), 4, "{inference}");
    assert_eq!(
        first["messages"],
        json!([{"role": "user", "content": [{"text": "hi"}]}])
    );
    let second: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(
        second["messages"].as_array().unwrap().len(),
        3,
        "the session keeps its conversation: {second}"
    );
}

/// Runs the binary on `file` and returns what it wrote to stderr, once it has exited (refused).
pub(crate) fn refused_at_start_up(file: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-server"))
        .args(["--host", "127.0.0.1", "--port", "0", "--replay"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial"))
        .arg("--agent")
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A bound on the wait, not a timing assertion: a binary that served anyway fails here.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{} was not refused", file.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    stderr
}

#[test]
fn a_bad_agent_file_stops_the_server_with_the_file_line_and_problem() {
    let dir = std::env::temp_dir().join(format!("agent-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text, line, problem) in [
        (
            "unknown-tool",
            "system_prompt = \"x\"\ntools = [\"calculator\", \"browser\"]\n",
            "line 2",
            "unknown variant `browser`",
        ),
        (
            "unknown-key",
            "system_prompt = \"x\"\nmodel = \"m\"\n",
            "line 2",
            "unknown field `model`",
        ),
        (
            "out-of-range",
            "[inference]\ntemperature = 3\n",
            "line 2",
            "must be from 0 to 1, not 3",
        ),
    ] {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let stderr = refused_at_start_up(&file);
        assert!(
            stderr.contains(&file.display().to_string())
                && stderr.contains(line)
                && stderr.contains(problem),
            "{name}: {stderr}"
        );
    }
    let missing = dir.join("missing.toml");
    let stderr = refused_at_start_up(&missing);
    assert!(
        stderr.contains(&format!("agent file {}: cannot be read", missing.display())),
        "{stderr}"
    );
}
