//! What an MCP server offers: its tool list, read at connection and again when the server
//! announces a change (`notifications/tools/list_changed`), filtered and fitted for Bedrock; an
//! agent that took the server as a [`ToolSource`] offers the new list from its next model call.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use agent_core::{Tool, ToolSource};
use rmcp::{Peer, RoleClient};
use tokio::sync::Notify;

use super::connection::McpServer;
use super::error::McpError;
use super::input_schema;
use super::remote_tool::McpTool;
use super::tool_names::model_tool_name;

/// A tool of the server's list that the filter lets through.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Offered {
    pub(super) remote_name: String,
    pub(super) spec: agent_core::ToolSpec,
}

impl McpServer {
    /// The server's tools as an agent follows them: the list it has now, and each new one the
    /// server announces.
    pub fn tool_source(self: &Arc<Self>) -> Arc<dyn ToolSource> {
        Arc::new(Followed(Arc::clone(self)))
    }

    /// Its tools that the filter offers, as the model will see them.
    pub fn tools(self: &Arc<Self>) -> Vec<Arc<dyn Tool>> {
        self.mcp_tools()
            .into_iter()
            .map(|tool| tool as Arc<dyn Tool>)
            .collect()
    }

    /// [`McpServer::tools`], each still saying which server and remote tool it is.
    pub fn mcp_tools(self: &Arc<Self>) -> Vec<Arc<McpTool>> {
        self.offered
            .read()
            .expect("the tool list is never left half-written")
            .iter()
            .map(|offered| {
                Arc::new(McpTool::new(
                    Arc::clone(self),
                    offered.remote_name.clone(),
                    offered.spec.clone(),
                ))
            })
            .collect()
    }

    /// Reads the whole tool list and keeps what the filter offers, fitted for Bedrock.
    pub(super) async fn read_tool_list(&self, peer: &Peer<RoleClient>) -> Result<(), McpError> {
        let _reading = self.reading_list.lock().await;
        self.list_changed.store(false, Ordering::Release);
        let listed = tokio::time::timeout(self.config.connect_timeout, peer.list_all_tools())
            .await
            .map_err(|_| self.unreachable("tools/list timed out".to_owned()))?
            .map_err(|error| self.unreachable(format!("tools/list failed: {error}")))?;
        let prefix = self.config.prefix.then_some(self.config.name.as_str());
        let mut offered: Vec<Offered> = Vec::new();
        for tool in listed {
            if !self.config.filter.allows(&tool.name) {
                continue;
            }
            let input_schema = match input_schema::for_bedrock(&tool.input_schema) {
                Ok(schema) => schema,
                Err(reason) => {
                    tracing::warn!(server = %self.config.name, tool = %tool.name, "MCP tool left out: {reason}");
                    continue;
                }
            };
            let name = model_tool_name(prefix, &tool.name);
            if let Some(earlier) = offered.iter().find(|earlier| earlier.spec.name == name) {
                return Err(McpError::NameClash {
                    server: self.config.name.clone(),
                    first: earlier.remote_name.clone(),
                    second: tool.name.into_owned(),
                    name,
                });
            }
            offered.push(Offered {
                spec: agent_core::ToolSpec {
                    name,
                    description: tool
                        .description
                        .map(|description| description.into_owned())
                        .or(tool.title)
                        .unwrap_or_else(|| format!("The `{}` tool", tool.name)),
                    input_schema,
                },
                remote_name: tool.name.into_owned(),
            });
        }
        let mut current = self
            .offered
            .write()
            .expect("the tool list is never left half-written");
        if *current != offered {
            *current = offered;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    pub(super) fn offers(&self, remote_name: &str) -> bool {
        self.offered
            .read()
            .expect("the tool list is never left half-written")
            .iter()
            .any(|offered| offered.remote_name == remote_name)
    }
}

/// Reads the list again each time the server announces a change, while the server is in use.
pub(super) async fn follow_announcements(server: Weak<McpServer>, announced: Arc<Notify>) {
    loop {
        announced.notified().await;
        let Some(server) = server.upgrade() else {
            return;
        };
        let refreshed = match server.peer().await {
            Ok(peer) => server.read_tool_list(&peer).await,
            Err(error) => Err(error),
        };
        if let Err(error) = refreshed {
            tracing::warn!(server = %server.config.name, "MCP tool list not refreshed: {error}");
        }
    }
}

/// An MCP server's tools as a [`ToolSource`].
struct Followed(Arc<McpServer>);

impl ToolSource for Followed {
    fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::Acquire)
    }

    fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.0.tools()
    }
}
