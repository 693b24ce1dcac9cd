//! Which agent the binary serves — the tutorial's, or the one an `--agent` file defines — and
//! the one place it is built: the model, the tools (an agent file's MCP servers' among them),
//! long-term memory, and the entrypoint around them.

use std::sync::Arc;

use agent_core::Model;
use agent_core::long_term_memory::LongTermMemory;
use agent_core::session::SessionStore;
use agent_server::agent_file::{AgentFile, LongTermMemorySection};
use agent_server::mcp_servers::McpServers;
use agent_server::tutorial::{TutorialEntrypoint, tutorial_agent_builder};
use agent_server::{AgentCoreApp, AgentEntrypoint};
use anyhow::Context;

use crate::config::ServerConfig;

/// The agent to serve.
pub(crate) enum AgentSource {
    /// The AWS tutorial's agent: its users, prompt template and tools.
    Tutorial,
    /// The agent a TOML file defines.
    File(Box<AgentFile>),
}

/// The app serving the agent, and the MCP servers it holds open.
pub(crate) struct BuiltAgent {
    pub(crate) app: AgentCoreApp,
    pub(crate) mcp_servers: McpServers,
}

impl AgentSource {
    /// `--agent`'s file, loaded and checked, else the tutorial.
    pub(crate) fn from_config(config: &ServerConfig) -> anyhow::Result<Self> {
        Ok(match &config.agent {
            Some(path) => Self::File(Box::new(AgentFile::load(path)?)),
            None => Self::Tutorial,
        })
    }

    /// What the start-up line calls it.
    pub(crate) fn name(&self, config: &ServerConfig) -> String {
        config
            .agent
            .as_ref()
            .map_or_else(|| "tutorial".to_owned(), |path| path.display().to_string())
    }

    /// The model id: the file's, else `--model-id`.
    pub(crate) fn model_id<'a>(&'a self, config: &'a ServerConfig) -> &'a str {
        match self {
            Self::File(file) => file.model_id.as_deref().unwrap_or(&config.model_id),
            Self::Tutorial => &config.model_id,
        }
    }

    /// The file's `[long_term_memory]` table, if any.
    pub(crate) fn long_term_memory(&self) -> Option<&LongTermMemorySection> {
        match self {
            Self::File(file) => file.long_term_memory.as_ref(),
            Self::Tutorial => None,
        }
    }

    /// The agent on `model` with its sessions in `store`, served by an app with the default
    /// limits; an agent file's MCP servers are connected here.
    pub(crate) async fn build(
        &self,
        config: &ServerConfig,
        model: Arc<dyn Model>,
        store: Arc<dyn SessionStore>,
        recall: Option<LongTermMemory>,
    ) -> anyhow::Result<BuiltAgent> {
        let (builder, mcp_servers) = match self {
            Self::File(file) => {
                let mcp_servers = McpServers::connect(&file.mcp_servers)
                    .await
                    .context("connecting the agent file's MCP servers")?;
                let builder = mcp_servers
                    .add_tools(
                        file.agent_builder(model, config.clock(), config.agent_config()),
                        file.tool_names(),
                    )
                    .context("offering the MCP servers' tools")?;
                (builder, mcp_servers)
            }
            Self::Tutorial => (
                tutorial_agent_builder(model, config.clock(), config.agent_config()),
                McpServers::default(),
            ),
        };
        let agent = match recall {
            Some(recall) => builder.recall(Arc::new(recall)),
            None => builder,
        }
        .build();
        let app = match self {
            Self::File(_) => AgentCoreApp::new(AgentEntrypoint::new(agent, store)),
            Self::Tutorial => AgentCoreApp::new(TutorialEntrypoint::tutorial(agent, store)),
        };
        Ok(BuiltAgent { app, mcp_servers })
    }
}
