//! agent-server's behaviour tests, one binary with a module per subject; each runs the real
//! thing — a bound server (`support::TestServer`), the `agent-server` binary as a child process,
//! a `redis-server` of its own, the AWS SDK against wiremock — through `agent-testkit`.

mod support;

mod agent_file;
mod agent_streaming;
mod agentcore_memory;
mod auth;
mod bad_input;
mod binary;
mod body_budget;
mod contract;
mod edge;
mod expiry;
mod faults;
mod isolation;
mod mcp_servers;
mod redis_cluster;
mod redis_sessions;
mod runtime;
mod session_state;
mod streaming;
mod telemetry;
mod visit_counter;
mod websocket_limits;
