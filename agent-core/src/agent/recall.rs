//! Long-term memory an agent consults before each turn: what is known about the user, found by
//! the prompt, shown to the model in that turn only.
//!
//! The memories go into the model's copy of the turn's prompt, as a first text block
//! `<user_context>…</user_context>`, and never into the history: the next turn recalls afresh,
//! so a long session neither grows with stale copies nor replays memories that changed.

use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

use crate::message::{ContentBlock, Message};
use crate::session::SessionKey;

/// How long a recall may take before the turn goes on without memories.
pub const DEFAULT_RECALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A source of long-term memories.
///
/// Its `Display` form says where memories come from, for the start-up log.
#[async_trait]
pub trait Recall: Send + Sync + 'static + std::fmt::Display {
    /// The memories relevant to `query`, most relevant first; empty when none are.
    async fn recall(&self, query: RecallQuery<'_>) -> Result<Vec<String>, RecallError>;

    /// How long [`Recall::recall`] may take; past it the turn goes on without memories.
    fn timeout(&self) -> Duration {
        DEFAULT_RECALL_TIMEOUT
    }
}

/// What a turn recalls for.
#[derive(Debug, Clone, Copy)]
pub struct RecallQuery<'a> {
    /// The session of the turn, if it runs in one; its owner is whom the memories are about.
    pub session: Option<&'a SessionKey>,
    /// The user's prompt, the search query.
    pub prompt: &'a str,
}

/// Why memories could not be recalled; the turn goes on without them.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct RecallError(pub String);

/// The block that carries recalled memories into a prompt.
pub(crate) fn user_context(memories: &[String]) -> Option<ContentBlock> {
    (!memories.is_empty()).then(|| {
        ContentBlock::Text(format!(
            "<user_context>{}</user_context>",
            memories.join("\n")
        ))
    })
}

/// The model's copy of `messages`, with `context` first in the latest prompt.
pub(crate) fn with_context(messages: &[Message], context: &ContentBlock) -> Vec<Message> {
    let mut copy = messages.to_vec();
    if let Some(prompt) = copy.iter_mut().rev().find(|message| message.starts_turn()) {
        prompt.content.insert(0, context.clone());
    }
    copy
}
