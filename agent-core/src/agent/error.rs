//! Why an invocation failed, told apart so that the server maps each kind to one status.

use std::time::Duration;

use thiserror::Error;

use crate::model::ModelError;

/// An invocation that did not produce an answer. The conversation is left as it was before it.
#[derive(Debug, Clone, Error, PartialEq)]
#[non_exhaustive]
pub enum AgentError {
    /// The model kept throttling through every retry.
    #[error(
        "the model is throttling requests and {attempts} attempts did not get through: {message}"
    )]
    Throttled {
        /// Model calls made, the first included.
        attempts: u32,
        /// What the model said last.
        message: String,
        /// Seconds a client should wait before trying again.
        retry_after_secs: u64,
    },
    /// The model failed in a way that waiting does not fix, or kept failing with 5xx.
    #[error(transparent)]
    Model(ModelError),
    /// The model did not answer within the model timeout.
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
    /// The whole invocation took longer than its deadline.
    #[error("the invocation did not finish within {0:?} (model calls, retries and tools together)")]
    InvocationTimeout(Duration),
    /// The prompt does not fit the model's context even with the earlier conversation trimmed.
    #[error(
        "the prompt is too long for the model, even with the earlier conversation trimmed: {message}"
    )]
    PromptTooLong {
        /// What the model service said.
        message: String,
    },
    /// The model kept asking for tools past the cycle cap.
    #[error(
        "the agent stopped after {cycles} model calls that all asked for tools (the cap per invocation)"
    )]
    ToolLoopCap {
        /// Model calls made.
        cycles: u32,
    },
    /// The invocation's own input cannot be used.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The model's answer did not fit the structured output's type, even after it was told why.
    #[error("no structured output: {0}")]
    StructuredOutput(String),
    /// The client stopped listening to the invocation's events; it was stopped.
    #[error("the client went away before the invocation finished")]
    Disconnected,
}

impl AgentError {
    /// The kind of failure as one word, for traces' `error.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Throttled { .. } => "throttled",
            Self::Model(error) => error.kind(),
            Self::Timeout(_) => "timeout",
            Self::InvocationTimeout(_) => "invocation_timeout",
            Self::PromptTooLong { .. } => "prompt_too_long",
            Self::ToolLoopCap { .. } => "tool_loop_cap",
            Self::InvalidInput(_) => "invalid_input",
            Self::StructuredOutput(_) => "structured_output",
            Self::Disconnected => "client_disconnected",
        }
    }
}
