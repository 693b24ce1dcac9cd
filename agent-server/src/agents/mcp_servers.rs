//! The MCP servers of an agent file, connected: concurrently at start-up, each within 30 s; the
//! tools of all of them and the built-in ones must have distinct names, and a clash stops
//! start-up naming both tools and where they come from. The tables themselves are
//! [`McpServerSection`]s.

use std::collections::HashMap;
use std::sync::Arc;

use agent_core::{AgentBuilder, Tool};
use agent_tools::mcp::McpServer;

pub use super::mcp_server_section::McpServerSection;

/// The MCP servers of an agent file, connected.
#[derive(Default)]
pub struct McpServers {
    servers: Vec<Arc<McpServer>>,
}

impl McpServers {
    /// Connects every server of `sections` concurrently; an optional one that cannot be reached
    /// is left out with a warning, any other stops start-up.
    pub async fn connect(sections: &[McpServerSection]) -> Result<Self, String> {
        let configs = sections
            .iter()
            .map(|section| section.config(|variable| std::env::var(variable).ok()))
            .collect::<Result<Vec<_>, _>>()?;
        let connected = futures::future::join_all(configs.into_iter().map(|config| async move {
            let optional = config.optional;
            (optional, McpServer::connect(config).await)
        }))
        .await;
        let mut servers = Vec::new();
        for (optional, outcome) in connected {
            match outcome {
                Ok(server) => servers.push(server),
                Err(error) if optional => {
                    tracing::warn!("{error}; starting without it (optional)");
                }
                Err(error) => return Err(error.to_string()),
            }
        }
        Ok(Self { servers })
    }

    /// How many servers are connected.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Adds every server's tools to `builder`; a name taken twice — by two servers' tools or by
    /// a server's and a built-in one — is an error naming both.
    pub fn add_tools(
        &self,
        mut builder: AgentBuilder,
        built_in: impl IntoIterator<Item = String>,
    ) -> Result<AgentBuilder, String> {
        let mut origins: HashMap<String, String> = built_in
            .into_iter()
            .map(|name| {
                let origin = format!("the built-in tool `{name}`");
                (name, origin)
            })
            .collect();
        for server in &self.servers {
            for tool in server.mcp_tools() {
                let name = tool.spec().name;
                let origin = format!(
                    "tool `{}` of MCP server `{}`",
                    tool.remote_name(),
                    tool.server()
                );
                if let Some(earlier) = origins.get(&name) {
                    return Err(format!(
                        "{earlier} and {origin} would both be offered as `{name}`; set `prefix`, `tools` or `exclude_tools` to tell them apart"
                    ));
                }
                origins.insert(name, origin);
            }
            builder = builder
                .tool_source(server.tool_source())
                .map_err(|error| error.to_string())?;
        }
        Ok(builder)
    }

    /// Ends every connection; stdio servers' processes end with them.
    pub async fn close(&self) {
        futures::future::join_all(self.servers.iter().map(|server| server.close())).await;
    }
}
