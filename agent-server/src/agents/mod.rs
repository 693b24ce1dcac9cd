//! The agents this crate ships: the AWS tutorial's, in code, and any agent a TOML file defines.

pub mod agent_file;
mod mcp_server_section;
pub mod mcp_servers;
pub mod tutorial;
