//! An Amazon Bedrock AgentCore Runtime in Rust: the HTTP contract (`POST /invocations`,
//! `GET /ping`, `/ws`) around any [`Entrypoint`]; [`AgentEntrypoint`], any agent with one
//! conversation per session; the agents this crate ships ([`tutorial`], and those defined in
//! files: [`agent_file`]); and OpenTelemetry for a binary to install ([`observability`]).
//!
//! The rooms, each a module (see `ARCHITECTURE.md`): `contract` (the routes, the invocation
//! pipeline and its layers, `/ping`), `error` (every failure and its status, one table), `context` (headers → [`RuntimeContext`] by SDK
//! 1.25's rules), `entrypoint` (the trait, agents as entrypoints, streamed invocations), `agents`,
//! [`observability`] and `serving` (the connection edge, shutdown). Everyday items are at the
//! crate root; the shipped agents and observability are reached through their modules.
//!
//! ```no_run
//! use agent_server::{entrypoint_fn, shutdown_signal, AgentCoreApp};
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = AgentCoreApp::new(entrypoint_fn(|payload, _context| async move {
//!     Ok(payload["prompt"].as_str().unwrap_or_default().to_uppercase())
//! }));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! app.serve(listener, shutdown_signal()).await
//! # }
//! ```

mod agents;
pub mod auth;
mod context;
mod contract;
mod entrypoint;
mod error;
pub mod observability;
mod serving;

pub use agents::{agent_file, mcp_servers, tutorial};
pub use context::{REQUEST_ID_HEADER, RuntimeContext, SESSION_ID_HEADER, USER_ID_HEADER};
pub use contract::health::{BusyGuard, Health, PingHandler, PingStatus, Status};
pub use contract::{
    AgentCoreApp, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_IN_FLIGHT, default_body_budget,
};
pub use entrypoint::agent::{
    AgentEntrypoint, AgentRequest, PayloadReader, PromptPayload, prompt_field,
};
pub use entrypoint::streamed::{EventChannel, spawn_streamed};
pub use entrypoint::{Entrypoint, Output, entrypoint_fn, streaming_entrypoint_fn};
pub use error::{EntrypointFailure, InvocationError, MODEL_UNREACHABLE_HINT};
pub use serving::edge::EdgeConfig;
pub use serving::shutdown::shutdown_signal;
