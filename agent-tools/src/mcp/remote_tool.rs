//! One tool of an MCP server, as an `agent_core::Tool`.

use std::sync::Arc;

use agent_core::{Tool, ToolContext, ToolError, ToolOutput, ToolSpec};
use async_trait::async_trait;
use serde_json::Value;

use super::connection::McpServer;

/// A tool an MCP server runs: offered under its fitted name, called by its own.
pub struct McpTool {
    server: Arc<McpServer>,
    remote_name: String,
    spec: ToolSpec,
}

impl McpTool {
    pub(crate) fn new(server: Arc<McpServer>, remote_name: String, spec: ToolSpec) -> Self {
        Self {
            server,
            remote_name,
            spec,
        }
    }

    /// The name the server knows the tool by.
    pub fn remote_name(&self) -> &str {
        &self.remote_name
    }

    /// The server it belongs to.
    pub fn server(&self) -> &str {
        self.server.name()
    }
}

#[async_trait]
impl Tool for McpTool {
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    async fn call(&self, input: Value, context: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.server.call(&self.remote_name, input, context).await
    }
}
