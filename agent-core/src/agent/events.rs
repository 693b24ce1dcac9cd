//! What an invocation reports while it runs, and where it goes.
//!
//! The agent loop sends every event to an [`AgentEvents`] sink and waits for it to be taken, so
//! a slow reader slows the invocation down instead of making anything buffer without bound; a
//! sink whose reader has gone stops the invocation, which then leaves its history as it was.

use async_trait::async_trait;
use thiserror::Error;

use crate::message::{ToolResult, ToolUse};

/// One step of an invocation, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// Model text, as the model writes it (every model turn's).
    TextDelta(String),
    /// A tool call, once its input is complete, before it runs.
    ToolUse(ToolUse),
    /// A tool call's result, with the tool's name.
    ToolResult {
        /// The tool that ran.
        name: String,
        /// What it answered.
        result: ToolResult,
    },
}

/// Nobody is listening any more: the client went away.
#[derive(Debug, Clone, Copy, Error, PartialEq, Eq)]
#[error("the client stopped listening")]
pub struct Disconnected;

/// Where an invocation's events go.
#[async_trait]
pub trait AgentEvents: Send {
    /// Hands over one event, waiting while the reader is behind.
    async fn send(&mut self, event: AgentEvent) -> Result<(), Disconnected>;

    /// Whether events reach someone as they happen. While nothing of a model turn has reached
    /// anyone, a failed model call can still be retried unnoticed.
    fn delivers(&self) -> bool {
        true
    }
}

/// Drops every event: the plain, non-streaming invocation.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

#[async_trait]
impl AgentEvents for NoEvents {
    async fn send(&mut self, _event: AgentEvent) -> Result<(), Disconnected> {
        Ok(())
    }

    fn delivers(&self) -> bool {
        false
    }
}

#[async_trait]
impl AgentEvents for tokio::sync::mpsc::Sender<AgentEvent> {
    async fn send(&mut self, event: AgentEvent) -> Result<(), Disconnected> {
        tokio::sync::mpsc::Sender::send(self, event)
            .await
            .map_err(|_| Disconnected)
    }
}
