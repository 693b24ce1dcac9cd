//! Why an MCP server could not be used.

use thiserror::Error;

/// Why a server could not be used.
#[derive(Debug, Error)]
pub enum McpError {
    /// It could not be started or reached, or did not complete the handshake.
    #[error("MCP server `{server}` could not be reached: {reason}")]
    Unreachable {
        /// The server's name.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// Two of its tools fit to the same name for the model.
    #[error(
        "MCP server `{server}`: tools `{first}` and `{second}` would both be offered as `{name}`"
    )]
    NameClash {
        /// The server's name.
        server: String,
        /// The first tool, as the server names it.
        first: String,
        /// The second tool, as the server names it.
        second: String,
        /// The name both fit to.
        name: String,
    },
    /// Its configuration cannot work.
    #[error("MCP server `{server}`: {reason}")]
    Config {
        /// The server's name.
        server: String,
        /// What is wrong.
        reason: String,
    },
}
