//! An Amazon Bedrock AgentCore Runtime in Rust: the HTTP contract (`POST /invocations`,
//! `GET /ping`, `/ws`) around any [`Entrypoint`]; [`AgentEntrypoint`], any agent with one
//! conversation per session (the tutorial's is one); agents defined in files
//! ([`agent_file`]); and OpenTelemetry for the binary to install ([`telemetry`]).
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

pub mod agent_entrypoint;
pub mod agent_file;
pub mod app;
pub mod config;
pub mod context;
pub mod edge;
pub mod entrypoint;
pub mod error;
pub mod forwarded_headers;
pub mod health;
pub mod log_format;
pub mod stream_events;
pub mod streamed;
pub mod telemetry;
pub mod trace_context;
pub mod tutorial;
mod websocket;

pub use agent_entrypoint::{AgentEntrypoint, AgentRequest, PayloadReader, PromptPayload};
pub use app::{
    AgentCoreApp, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_IN_FLIGHT, REQUEST_ID_HEADER,
    SESSION_ID_HEADER, USER_ID_HEADER, shutdown_signal,
};
pub use config::{LogFormat, ServerConfig};
pub use context::RuntimeContext;
pub use edge::EdgeConfig;
pub use entrypoint::{Entrypoint, Output, entrypoint_fn, streaming_entrypoint_fn};
pub use error::InvocationError;
pub use health::{BusyGuard, Health, PingHandler, PingStatus, Status};
pub use tutorial::{
    TutorialEntrypoint, TutorialPayload, TutorialRequest, personalised_prompt, tutorial_agent,
};
