//! What a successful invocation answers: the model's last text and what the invocation spent.

use crate::model::{StopReason, Usage};

/// The outcome of a successful invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentReply {
    /// The text of the model's last message.
    pub text: String,
    /// Why the model's last message ended.
    pub stop_reason: StopReason,
    /// Tokens summed over every model call of the invocation.
    pub usage: Usage,
    /// Model calls made.
    pub cycles: u32,
}
