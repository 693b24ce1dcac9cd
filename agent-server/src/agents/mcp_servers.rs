//! The MCP servers of an agent file, connected: concurrently at start-up, each within 30 s; the
//! tools of all of them and the built-in ones must have distinct names, and a clash stops
//! start-up naming both tools and where they come from. The tables themselves are
//! [`McpServerSection`]s.

use std::collections::HashMap;
use std::sync::Arc;

use agent_core::{AgentBuilder, RegistryError, Tool};
use agent_tools::mcp::{McpError, McpServer};

pub use super::mcp_server_section::McpServerSection;

/// Why an agent file's MCP servers cannot serve its agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpServersError {
    /// A table cannot be made a server's configuration (a `${VAR}` the environment lacks).
    #[error("{0}")]
    Config(String),
    /// A server that is not optional could not be reached or listed.
    #[error(transparent)]
    Unreachable(#[from] McpError),
    /// Two tools would be offered under one name.
    #[error(
        "{earlier} and {later} would both be offered as `{name}`; set `prefix`, `tools` or `exclude_tools` to tell them apart"
    )]
    NameClash {
        /// Where the first comes from.
        earlier: String,
        /// Where the second comes from.
        later: String,
        /// The name both would have.
        name: String,
    },
    /// The agent refused a server's tools.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The MCP servers of an agent file, connected.
#[derive(Default)]
pub struct McpServers {
    servers: Vec<Arc<McpServer>>,
}

impl McpServers {
    /// Connects every server of `sections` concurrently; an optional one that cannot be reached
    /// is left out with a warning, any other stops start-up.
    pub async fn connect(sections: &[McpServerSection]) -> Result<Self, McpServersError> {
        let configs = sections
            .iter()
            .map(|section| section.config(|variable| std::env::var(variable).ok()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(McpServersError::Config)?;
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
                Err(error) => return Err(error.into()),
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
    ) -> Result<AgentBuilder, McpServersError> {
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
                    return Err(McpServersError::NameClash {
                        earlier: earlier.clone(),
                        later: origin,
                        name,
                    });
                }
                origins.insert(name, origin);
            }
            builder = builder.tool_source(server.tool_source())?;
        }
        Ok(builder)
    }

    /// Ends every connection; stdio servers' processes end with them.
    pub async fn close(&self) {
        futures::future::join_all(self.servers.iter().map(|server| server.close())).await;
    }
}
