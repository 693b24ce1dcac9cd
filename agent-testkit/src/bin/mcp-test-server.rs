//! The test MCP server over stdio, for clients that start it as a child process.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    agent_testkit::TestMcpServer::default().serve_stdio().await
}
