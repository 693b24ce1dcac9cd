//! MCP for real, both sides on rmcp: the client of `agent-tools` against the workspace's test
//! MCP server over stdio (a child process) and streamable HTTP (a loopback port), and an agent
//! file using it, driven through the runtime with Bedrock on wiremock and the real AWS SDK.

mod agent_file;
mod client;

use std::sync::Arc;
use std::time::Duration;

use agent_core::{ToolContext, ToolRegistry, ToolResult, ToolUse};
use agent_tools::mcp::{McpServer, McpServerConfig};
use serde_json::Value;

/// The test server as a child process.
const STDIO_SERVER: &str = env!("CARGO_BIN_EXE_mcp-test-server");

/// The test server over stdio, prefixed `t`.
fn stdio_config() -> McpServerConfig {
    McpServerConfig::stdio("t", STDIO_SERVER, [""; 0])
}

/// A registry of `server`'s tools, as an agent holds them.
fn registry_of(server: &Arc<McpServer>) -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    for tool in server.tools() {
        registry.register(tool).unwrap();
    }
    registry
}

/// Runs the tool the model knows as `name` the way the agent does.
async fn run(registry: &ToolRegistry, name: &str, input: Value) -> ToolResult {
    registry
        .run(
            &ToolUse {
                tool_use_id: "use-1".into(),
                name: name.into(),
                input,
            },
            &ToolContext::detached("use-1"),
        )
        .await
}

/// Waits, bounded, for `condition` to hold: for what a server does after answering.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Live processes whose command line holds `marker`.
pub(crate) fn processes_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let cmdline = std::fs::read(path.join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            let state = stat.rsplit(") ").next()?.chars().next()?;
            let holds = String::from_utf8_lossy(&cmdline).contains(marker);
            (holds && state != 'Z').then_some(())
        })
        .count()
}
