//! The Model Context Protocol in both directions, on the official `rmcp` crate.
//!
//! - Feature `mcp-client`: connect to any MCP server — a child process over stdio, or a URL over
//!   streamable HTTP (AgentCore Gateway among them) — and offer its tools to an agent as
//!   [`agent_core::Tool`]s, fitted to what Bedrock accepts ([`McpServer`]).
//! - Feature `mcp-server`: serve any `agent_core::Tool`s — the tutorial's three in the
//!   `agent-tools-mcp` binary — over stdio or stateless streamable HTTP ([`ToolServer`]).
//!
//! ```no_run
//! # #[cfg(feature = "mcp-client")]
//! # async fn example() -> Result<(), agent_tools::mcp::McpError> {
//! use agent_tools::mcp::{McpServer, McpServerConfig};
//!
//! let docs = McpServer::connect(McpServerConfig::stdio(
//!     "docs",
//!     "uvx",
//!     ["awslabs.aws-documentation-mcp-server@latest"],
//! ))
//! .await?;
//! let builder = agent_core::Agent::builder(todo!("a model"))
//!     .tool_source(docs.tool_source()) // its tools, following the server's list changes
//!     .expect("names are unique");
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "mcp-client")]
mod call_result;
#[cfg(feature = "mcp-client")]
mod connection;
#[cfg(feature = "mcp-client")]
mod error;
#[cfg(feature = "mcp-client")]
mod forwarded_headers;
#[cfg(feature = "mcp-client")]
mod input_schema;
#[cfg(feature = "mcp-client")]
mod remote_tool;
#[cfg(feature = "mcp-client")]
mod server_config;
#[cfg(feature = "mcp-client")]
mod tool_call;
#[cfg(feature = "mcp-client")]
mod tool_list;
#[cfg(feature = "mcp-client")]
mod tool_names;
#[cfg(feature = "mcp-server")]
mod tool_server;

#[cfg(feature = "mcp-client")]
pub use self::connection::McpServer;
#[cfg(feature = "mcp-client")]
pub use self::error::McpError;
#[cfg(feature = "mcp-client")]
pub use self::input_schema::{SchemaError, for_bedrock as input_schema_for_bedrock};
#[cfg(feature = "mcp-client")]
pub use self::remote_tool::McpTool;
#[cfg(feature = "mcp-client")]
pub use self::server_config::{
    DEFAULT_CALL_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, McpServerConfig, McpTransport, ToolFilter,
};
#[cfg(feature = "mcp-client")]
pub use self::tool_names::{MAX_TOOL_NAME_LEN, model_tool_name};
#[cfg(feature = "mcp-server")]
pub use self::tool_server::{DEFAULT_HTTP_ADDRESS, ToolServer};
