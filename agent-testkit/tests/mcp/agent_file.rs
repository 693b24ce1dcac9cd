//! An agent file with a stdio and an HTTP MCP server, served by the runtime, with Bedrock on
//! wiremock through the real AWS SDK: what the model is offered, the results it gets back, and
//! each invocation's own `Authorization` reaching the HTTP server.

use std::sync::Arc;

use agent_core::bedrock::BedrockModel;
use agent_core::session::{MemorySessionStore, SessionConfig};
use agent_core::{AgentConfig, Model};
use agent_server::agent_file::AgentFile;
use agent_server::mcp_servers::McpServers;
use agent_server::{AgentCoreApp, AgentEntrypoint};
use agent_testkit::tool_round::{
    ToolRound, converse_requests, offered_schema, offered_tools, tool_result,
};
use agent_testkit::{LocalServer, PIXEL_PNG, TestMcpServer};
use agent_tools::Clock;
use agent_tools::mcp::model_tool_name;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

use crate::{STDIO_SERVER, eventually, processes_with};

/// Every MCP tool the test checks, asked for in one round.
fn the_round() -> ToolRound {
    ToolRound::new(
        &[
            ("u1", "local_echo_text", json!({"message": "hi"})),
            ("u2", "local_chart", json!({})),
            ("u3", "local_fail", json!({})),
            ("u4", "web_hang", json!({})),
            ("u5", "web_whoami", json!({})),
        ],
        "done",
    )
}

#[tokio::test]
async fn an_agent_file_offers_mcp_tools_and_the_model_gets_their_results() {
    let web = TestMcpServer::default().serve_http().await;
    let marker = format!("--agent-file-marker={}", std::process::id());
    let file = AgentFile::parse(&format!(
        r#"
name = "mcp-agent"
tools = ["calculator"]
[[mcp_servers]]
name = "local"
command = "{STDIO_SERVER}"
args = ["{marker}"]
tools = ["echo.text", "chart", "fail", "no_schema", "quarterly*"]
[[mcp_servers]]
name = "web"
url = "{}"
tools = ["whoami", "hang"]
forward_headers = ["authorization"]
timeout_secs = 1
"#,
        web.url()
    ))
    .unwrap();
    assert_eq!(processes_with(&marker), 0);
    let mcp = McpServers::connect(&file.mcp_servers).await.unwrap();
    assert_eq!(processes_with(&marker), 1, "one child for every session");

    let bedrock = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(the_round())
        .mount(&bedrock)
        .await;
    let model: Arc<dyn Model> = Arc::new(
        BedrockModel::for_local_endpoint(
            &bedrock.uri(),
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
        )
        .await,
    );
    let config = AgentConfig {
        model_streaming: false,
        ..AgentConfig::default()
    };
    let builder = mcp
        .add_tools(
            file.agent_builder(model, Clock::Local, config),
            file.tool_names(),
        )
        .unwrap();
    let store = Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let server = LocalServer::start(AgentCoreApp::new(AgentEntrypoint::new(
        builder.build(),
        store,
    )))
    .await
    .unwrap();

    let client = reqwest::Client::new();
    for (session, token) in [
        ("mcp-session-1", "Bearer alice-token"),
        ("mcp-session-2", "Bearer bob-token"),
    ] {
        let response = client
            .post(server.url("/invocations"))
            .header("x-amzn-bedrock-agentcore-runtime-session-id", session)
            .header("authorization", token)
            .json(&json!({"prompt": "go"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap(), "done");
    }

    let requests = converse_requests(&bedrock).await;
    assert_eq!(requests.len(), 4);

    // What the model is offered: built-in first, then each server's, names fitted.
    let long = model_tool_name(Some("local"), &agent_testkit::long_tool_name());
    assert_eq!(
        offered_tools(&requests[0]),
        [
            "calculator",
            "local_echo_text",
            long.as_str(),
            "local_no_schema",
            "local_chart",
            "local_fail",
            "web_hang",
            "web_whoami"
        ]
    );
    assert_eq!(
        offered_schema(&requests[0], "local_echo_text"),
        &json!({
            "type": "object",
            "properties": {"message": {"type": "string", "minLength": 1, "description": "what to repeat"}},
            "required": ["message"]
        })
    );
    assert_eq!(
        offered_schema(&requests[0], "local_no_schema"),
        &json!({"type": "object", "properties": {}})
    );

    // What the model gets back, as Bedrock receives it.
    for (turn, token) in [(1, "Bearer alice-token"), (3, "Bearer bob-token")] {
        let request = &requests[turn];
        assert_eq!(
            tool_result(request, "u1")["content"],
            json!([{"text": "hi"}])
        );
        assert_eq!(tool_result(request, "u1")["status"], "success");
        let chart = &tool_result(request, "u2")["content"];
        assert_eq!(chart[0], json!({"text": "the chart:"}));
        assert_eq!(chart[1]["image"]["format"], "png");
        let bytes = STANDARD
            .decode(chart[1]["image"]["source"]["bytes"].as_str().unwrap())
            .unwrap();
        assert_eq!(bytes, PIXEL_PNG);
        assert_eq!(tool_result(request, "u3")["status"], "error");
        assert_eq!(
            tool_result(request, "u3")["content"],
            json!([{"text": "Error: order o-9 does not exist"}])
        );
        let hung = tool_result(request, "u4");
        assert_eq!(hung["status"], "error");
        assert!(
            hung["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("did not answer within 1 s"),
            "{hung}"
        );
        // Each invocation's own header, never another's.
        assert_eq!(
            tool_result(request, "u5")["content"],
            json!([{"text": token}])
        );
    }
    eventually("both hung calls cancelled on the server", || {
        web.seen().cancelled.len() == 2
    })
    .await;
    assert_eq!(
        web.seen()
            .calls
            .iter()
            .filter(|call| *call == "whoami")
            .count(),
        2
    );
    mcp.close().await;
    assert_eq!(
        processes_with(&marker),
        0,
        "the stdio server ended with the servers"
    );
}

#[tokio::test]
async fn two_tools_offered_under_one_name_stop_start_up_naming_both() {
    let file = AgentFile::parse(&format!(
        r#"
tools = ["calculator"]
[[mcp_servers]]
name = "first"
command = "{STDIO_SERVER}"
prefix = false
tools = ["chart"]
[[mcp_servers]]
name = "second"
command = "{STDIO_SERVER}"
prefix = false
tools = ["chart"]
"#
    ))
    .unwrap();
    let mcp = McpServers::connect(&file.mcp_servers).await.unwrap();
    let model: Arc<dyn Model> = Arc::new(
        BedrockModel::for_local_endpoint(
            "http://127.0.0.1:9",
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
        )
        .await,
    );
    let error = mcp
        .add_tools(
            file.agent_builder(model, Clock::Local, AgentConfig::default()),
            file.tool_names(),
        )
        .err()
        .expect("a clash");
    assert!(matches!(
        &error,
        agent_server::mcp_servers::McpServersError::NameClash { name, .. } if name == "chart"
    ));
    assert_eq!(
        error.to_string(),
        "tool `chart` of MCP server `first` and tool `chart` of MCP server `second` would both be offered as `chart`; set `prefix`, `tools` or `exclude_tools` to tell them apart"
    );
    mcp.close().await;
}
