//! The binary with an agent file naming MCP servers: a tool of an HTTP MCP server (the
//! testkit's, on loopback) used through Bedrock on wiremock with each invocation's own
//! `Authorization`, and servers that cannot be reached stopping start-up unless optional.

use std::path::PathBuf;

use crate::agent_file::refused_at_start_up;
use crate::support::BINARY;
use agent_testkit::tool_round::{ToolRound, converse_requests, offered_tools, tool_result};
use agent_testkit::{ServerProcess, TestMcpServer};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

fn agent_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcp-agent-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    file
}

fn whoami_and_echo() -> ToolRound {
    ToolRound::new(
        &[
            ("w1", "web_whoami", json!({})),
            ("w2", "web_echo_text", json!({"message": "hi"})),
        ],
        "done",
    )
}

// Multi-threaded: the MCP server runs in this test's runtime while start-up is awaited blocking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_file_s_mcp_server_serves_its_tools_through_the_binary() {
    let web = TestMcpServer::default().serve_http().await;
    let bedrock = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(whoami_and_echo())
        .mount(&bedrock)
        .await;
    let file = agent_file(
        "web",
        &format!(
            "tools = [\"calculator\"]\n[[mcp_servers]]\nname = \"web\"\nurl = \"{}\"\ntools = [\"whoami\", \"echo.*\"]\nforward_headers = [\"authorization\"]\n",
            web.url()
        ),
    );
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
        server.startup_line.contains("mcp_servers=1"),
        "{}",
        server.startup_line
    );
    for (session, token) in [
        ("mcp-binary-1", "Bearer carol"),
        ("mcp-binary-2", "Bearer dave"),
    ] {
        let response = reqwest::Client::new()
            .post(format!("http://{}/invocations", server.address))
            .header("x-amzn-bedrock-agentcore-runtime-session-id", session)
            .header("authorization", token)
            .json(&json!({"prompt": "who am I?"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap(), "done");
    }
    let requests = converse_requests(&bedrock).await;
    assert_eq!(
        offered_tools(&requests[0]),
        ["calculator", "web_echo_text", "web_whoami"]
    );
    for (turn, token) in [(1, "Bearer carol"), (3, "Bearer dave")] {
        assert_eq!(
            tool_result(&requests[turn], "w1")["content"],
            json!([{"text": token}])
        );
        assert_eq!(
            tool_result(&requests[turn], "w2")["content"],
            json!([{"text": "hi"}])
        );
    }
    // The configured token never reaches a log line; here none is configured, and the
    // forwarded ones must not appear either.
    assert!(
        !server
            .log_lines()
            .iter()
            .any(|line| line.contains("carol") || line.contains("dave")),
        "{:?}",
        server.log_lines()
    );
}

#[tokio::test]
async fn an_mcp_server_that_cannot_be_reached_stops_start_up_naming_it_unless_optional() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let required = agent_file(
        "unreachable",
        &format!("[[mcp_servers]]\nname = \"gone\"\nurl = \"http://{closed}/mcp\"\n"),
    );
    let stderr = refused_at_start_up(&required);
    assert!(
        stderr.contains("MCP server `gone` could not be reached"),
        "{stderr}"
    );

    let optional = agent_file(
        "optional",
        &format!(
            "[[mcp_servers]]\nname = \"gone\"\nurl = \"http://{closed}/mcp\"\noptional = true\n"
        ),
    );
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let server = ServerProcess::start(
        BINARY,
        &[
            "--replay",
            fixtures.to_str().unwrap(),
            "--agent",
            optional.to_str().unwrap(),
        ],
    );
    assert!(
        server.startup_line.contains("mcp_servers=0"),
        "{}",
        server.startup_line
    );
}

#[test]
fn a_variable_the_file_names_but_the_environment_lacks_stops_start_up_naming_it() {
    let file = agent_file(
        "token",
        "[[mcp_servers]]\nname = \"gateway\"\nurl = \"http://127.0.0.1:9/mcp\"\nheaders = { Authorization = \"Bearer ${AGENT_SERVER_TEST_UNSET_TOKEN}\" }\n",
    );
    let stderr = refused_at_start_up(&file);
    assert!(
        stderr.contains("MCP server `gateway`: the environment variable `AGENT_SERVER_TEST_UNSET_TOKEN` is not set"),
        "{stderr}"
    );
}
