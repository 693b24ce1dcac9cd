//! `agent-tools-mcp`: the tutorial's tools listed and called over MCP, stdio and streamable
//! HTTP, through this crate's own MCP client — the same tools and the same answers as in
//! process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use agent_core::{ToolContext, ToolRegistry, ToolResult, ToolUse};
use agent_tools::mcp::{McpServer, McpServerConfig};
use agent_tools::{Clock, tutorial_tools};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_agent-tools-mcp");
const FIXED_TIME: &str = "2025-07-01 09:30:05";

fn registry(tools: impl IntoIterator<Item = Arc<dyn agent_core::Tool>>) -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    for tool in tools {
        registry.register(tool).unwrap();
    }
    registry
}

async fn run(registry: &ToolRegistry, name: &str, input: Value) -> ToolResult {
    let tool_use = ToolUse {
        tool_use_id: "use-1".into(),
        name: name.into(),
        input,
    };
    registry
        .run(&tool_use, &ToolContext::detached("use-1"))
        .await
}

/// The same tools over MCP as in process: names, descriptions, schemas, and every answer,
/// failures included.
async fn assert_same_as_in_process(config: McpServerConfig) {
    let in_process = registry(tutorial_tools(Clock::fixed_at(FIXED_TIME).unwrap()));
    let server = McpServer::connect(config).await.unwrap();
    let over_mcp = registry(server.tools());
    assert_eq!(over_mcp.specs(), in_process.specs());
    for (name, input) in [
        ("calculator", json!({"expression": "2+5"})),
        ("calculator", json!({"expression": "(2+5)*34/7"})),
        ("calculator", json!({"expression": "2+"})),
        ("calculator", json!({"expr": "2+5"})),
        ("weather", json!({})),
        ("get_time", json!({})),
        ("nonexistent", json!({})),
    ] {
        assert_eq!(
            run(&over_mcp, name, input.clone()).await,
            run(&in_process, name, input).await,
            "{name}"
        );
    }
    server.close().await;
}

#[tokio::test]
async fn over_stdio_the_tools_answer_as_in_process() {
    let mut config = McpServerConfig::stdio("tools", BINARY, ["--clock", FIXED_TIME]);
    config.prefix = false;
    assert_same_as_in_process(config).await;
}

/// The binary serving HTTP on an ephemeral port; killed when dropped.
struct HttpServer {
    child: Child,
    url: String,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_http() -> HttpServer {
    let mut child = Command::new(BINARY)
        .args(["--http", "127.0.0.1:0", "--clock", FIXED_TIME])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let url = first_line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first_line:?}"))
        .to_owned();
    HttpServer { child, url }
}

#[tokio::test]
async fn over_streamable_http_the_tools_answer_as_in_process() {
    let server = serve_http();
    assert!(server.url.ends_with("/mcp"), "{}", server.url);
    let mut config = McpServerConfig::http("tools", server.url.clone());
    config.prefix = false;
    assert_same_as_in_process(config).await;
}

/// Posts one JSON-RPC request as AgentCore Runtime forwards it: its own `Mcp-Session-Id` and
/// runtime session header, and a `Host` that is not loopback.
async fn post_as_agentcore(url: &str, request: Value) -> Value {
    let response = reqwest::Client::new()
        .post(url)
        .header("host", "agent.example.com")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .header("mcp-session-id", "runtime-chosen-session-id")
        .header(
            "x-amzn-bedrock-agentcore-runtime-session-id",
            "a-runtime-session-id-of-at-least-33-chars",
        )
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn over_http_agentcore_s_session_headers_and_any_host_are_accepted() {
    let server = serve_http();
    let initialized = post_as_agentcore(
        &server.url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "agentcore", "version": "1"}
        }}),
    )
    .await;
    assert_eq!(initialized["result"]["serverInfo"]["name"], "agent-tools");
    let called = post_as_agentcore(
        &server.url,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "calculator",
            "arguments": {"expression": "2+5"}
        }}),
    )
    .await;
    assert_eq!(
        called["result"]["content"],
        json!([{"type": "text", "text": "Result: 7"}])
    );
    assert_ne!(called["result"]["isError"], json!(true));
}
