//! The engine of a tool-using agent behind the AgentCore Runtime contract.
//!
//! The crate root holds the engine, the types every agent speaks in:
//! - [`Message`] and [`Conversation`]: a history in Bedrock Converse's own shape, and the
//!   [`SlidingWindow`] that bounds it;
//! - [`Model`]: the one trait every model provider implements, with its request, response,
//!   errors and [`InferenceConfig`];
//! - [`Tool`] and the [`ToolRegistry`] that runs tools without ever failing an invocation;
//! - [`Agent`]: the loop that ties them together, with retries, a cycle cap and rollback.
//!
//! Each subsystem is a module, and its items are reached through it alone:
//! - [`session`]: per-session state with AgentCore's lifecycle, in memory or (feature `redis`)
//!   in Redis, or (feature `agentcore-memory`) in AgentCore Memory, scoped by owner;
//! - [`bedrock`] (feature `bedrock`, on by default): Bedrock Converse and ConverseStream through
//!   the AWS SDK;
//! - [`long_term_memory`] (feature `agentcore-memory`): memories from AgentCore Memory for the
//!   prompt, an agent's [`Recall`];
//! - [`replay`]: recorded Bedrock responses, the rule that matches them to requests, and the
//!   model that answers from them;
//! - [`telemetry`]: the GenAI spans and metrics the loop reports through the `opentelemetry`
//!   API;
//! - [`scripted`] (feature `scripted`): a model answering from a closure, for tests;
//! - [`sync`]: locks that a panic does not poison for everyone after it.

mod agent;
#[cfg(feature = "bedrock")]
pub mod bedrock;
mod caller;
mod conversation;
#[cfg(any(feature = "bedrock", feature = "agentcore-memory"))]
mod local_endpoint;
#[cfg(feature = "agentcore-memory")]
pub mod long_term_memory;
mod message;
mod model;
pub mod replay;
mod request;
pub mod session;
pub mod sync;
mod tool;

pub use agent::config::AgentConfig;
pub use agent::error::AgentError;
pub use agent::events::{AgentEvent, AgentEvents, Disconnected, NoEvents};
pub use agent::recall::{DEFAULT_RECALL_TIMEOUT, Recall, RecallError, RecallQuery};
pub use agent::reply::AgentReply;
pub use agent::retry::RetryPolicy;
pub use agent::telemetry;
pub use agent::{Agent, AgentBuilder};
pub use agent_tool_macro::tool;
pub use caller::VerifiedCaller;
pub use conversation::{Conversation, SlidingWindow};
pub use message::{
    ContentBlock, EMPTY_MESSAGE_PLACEHOLDER, Image, ImageFormat, ImageSource, Message, Role,
    ToolResult, ToolResultContent, ToolResultStatus, ToolUse,
};
#[cfg(any(test, feature = "scripted"))]
pub use model::scripted;
pub use model::{
    ConverseRequest, InferenceConfig, Model, ModelError, ModelEvent, ModelEvents, ModelResponse,
    StopReason, Usage,
};
pub use request::RequestInfo;
pub use tool::{
    IntoToolOutput, IntoToolResult, Json, RegistryError, TOOL_ERROR_PREFIX, Tool, ToolContext,
    ToolError, ToolOutput, ToolRegistry, ToolSource, ToolSpec,
};

// `#[tool]`'s generated code names `::agent_core`, here too.
extern crate self as agent_core;

/// What `#[tool]`'s generated code reaches through this crate, so that a crate writing tools
/// needs none of these dependencies itself. Not an API: it changes with the macro.
#[doc(hidden)]
pub mod __private {
    pub use crate::tool::plain_function::{IntoToolResult, input_schema, parse_input};
    pub use async_trait::async_trait;
    pub use schemars;
    pub use serde;
    pub use serde_json;
}
