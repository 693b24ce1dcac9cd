//! The one way the workspace's tests, benches and scenario harness run things for real, so none
//! of them grows its own:
//!
//! - [`LocalServer`]: an `AgentCoreApp` served on an ephemeral loopback port in the caller's
//!   runtime, stopped gracefully; [`serve_on_own_runtime`] for a server measured apart from its
//!   load generator;
//! - [`ServerProcess`]: the `agent-server` binary as a child process on an ephemeral port, with a
//!   clean AWS environment, its log read through a pipe;
//! - [`RedisServer`]: a real `redis-server` of the test's own, in a temporary directory;
//! - [`RedisCluster`]: six of them as a Redis Cluster, with failover and slot migration;
//! - [`MemoryStandIn`]: the AgentCore Memory data plane on a loopback port, for the real SDK;
//! - [`TestMcpServer`]: an MCP server with the tools that try a client, over stdio (the
//!   `mcp-test-server` binary) or streamable HTTP on a loopback port;
//! - [`OpenIdProvider`]: an OpenID Connect provider (discovery, JWKS, keys made by `openssl`)
//!   minting tokens for inbound auth, with rotation and outages;
//! - [`tool_round`]: Bedrock on wiremock playing a tool round per turn, and readers of what it
//!   was sent.
//!
//! Nothing here reaches beyond loopback. Not published: it is test support, not product.

mod agentcore_memory;
mod local_server;
mod mcp_test_server;
mod openid_provider;
mod redis;
mod redis_cluster;
mod restartable_port;
mod server_process;
pub mod tool_round;

pub use agentcore_memory::{MemoryStandIn, STAND_IN_MEMORY_ID, StoredEvent};
pub use local_server::{LocalServer, serve_on_own_runtime};
pub use mcp_test_server::{HttpMcpServer, PIXEL_PNG, Seen, TestMcpServer, long_tool_name};
pub use openid_provider::{OpenIdProvider, SigningKey, TEST_AUDIENCE, TEST_CLIENT};
pub use redis::{Persistence, RedisServer};
pub use redis_cluster::RedisCluster;
pub use server_process::{Log, ServerProcess, bedrock_at};
