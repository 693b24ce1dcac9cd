//! The engine of a tool-using agent behind the AgentCore Runtime contract.
//!
//! - [`Message`] and [`Conversation`]: a history in Bedrock Converse's own shape, and the
//!   [`SlidingWindow`] that bounds it;
//! - [`Model`]: the one trait every model provider implements; [`bedrock`] (feature `bedrock`,
//!   on by default) is Bedrock Converse through the AWS SDK, [`replay`] answers from recordings;
//! - [`Tool`] and the [`ToolRegistry`] that runs tools without ever failing an invocation;
//! - [`Agent`]: the loop that ties them together, with retries, a cycle cap and rollback, and
//!   reports GenAI spans and metrics through `tracing` ([`telemetry`]);
//! - [`session`]: per-session state with AgentCore's lifecycle, in memory or (feature `redis`)
//!   in Redis, scoped by owner.

mod agent;
#[cfg(feature = "bedrock")]
pub mod bedrock;
#[cfg(feature = "bedrock")]
mod bedrock_document;
#[cfg(feature = "bedrock")]
mod bedrock_request;
#[cfg(feature = "bedrock")]
mod bedrock_stream;
mod conversation;
mod error;
mod events;
mod inference;
mod message;
mod model;
pub mod replay;
mod retry;
#[cfg(any(test, feature = "scripted"))]
pub mod scripted;
pub mod session;
pub mod stream_frames;
#[cfg(feature = "bedrock")]
pub mod stream_wire;
#[cfg(feature = "bedrock")]
pub mod telemetry;
mod tool;
pub mod wire;

pub use agent::{Agent, AgentBuilder, AgentConfig, AgentReply};
#[cfg(feature = "bedrock")]
pub use bedrock::{BedrockModel, DEFAULT_MODEL_ID};
pub use conversation::{Conversation, SlidingWindow};
pub use error::AgentError;
pub use events::{AgentEvent, AgentEvents, Disconnected, NoEvents};
pub use inference::InferenceConfig;
pub use message::{
    ContentBlock, EMPTY_MESSAGE_PLACEHOLDER, Message, Role, ToolResult, ToolResultContent,
    ToolResultStatus, ToolUse,
};
pub use model::{
    ConverseRequest, Model, ModelError, ModelEvent, ModelEvents, ModelResponse, StopReason, Usage,
};
pub use retry::RetryPolicy;
pub use session::{
    MemorySessionStore, SessionConfig, SessionError, SessionId, SessionKey, SessionOwner,
    SessionStore, SessionTurn,
};
#[cfg(feature = "redis")]
pub use session::{RedisOptions, RedisSessionStore};
pub use tool::{RegistryError, Tool, ToolError, ToolOutput, ToolRegistry, ToolSpec};
