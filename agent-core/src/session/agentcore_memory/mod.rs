//! Sessions in Amazon Bedrock AgentCore Memory (short-term memory): the store the AWS tutorial
//! recommends for what must outlive a runtime session.
//!
//! The sessions this process serves are held in memory, with the in-memory store's guarantees
//! (one turn at a time, waiting, lifetimes); Memory is their archive:
//! - each committed turn is **one** CreateEvent ([`turn_record`]), written at commit only, with an
//!   idempotency token, so a failed turn writes nothing and a retried write is stored once;
//! - a session this process does not hold is restored with ListEvents, every page, then kept:
//!   a live session costs one CreateEvent per turn and no read;
//! - sessions the Python stack wrote into the same memory are restored too ([`strands`]);
//! - ids are mapped as [`ids`] says.

mod client;
mod events;
mod ids;
mod strands;
mod turn_record;

use std::sync::Arc;

use async_trait::async_trait;

pub use self::client::AgentCoreMemory;
pub(crate) use self::client::describe_error;
use self::events::MemoryEvents;
pub use self::ids::{InvalidMemoryId, MemoryId};
pub(crate) use self::ids::{actor_id, memory_session_id};
use crate::conversation::{Conversation, SlidingWindow};
use crate::session::{
    MemorySessionStore, SessionConfig, SessionError, SessionKey, SessionState, SessionStore,
    SessionTurn,
};

/// Sessions kept in AgentCore Memory, served from this process's memory; cheap to clone.
#[derive(Clone)]
pub struct AgentCoreMemorySessionStore {
    sessions: MemorySessionStore,
}

impl AgentCoreMemorySessionStore {
    /// Sessions in `memory`, with the lifetimes and limits of `config` for what this process
    /// holds; a restored history is cut to `window` as the agent would cut it.
    pub fn new(
        memory: AgentCoreMemory,
        config: SessionConfig,
        window: Option<SlidingWindow>,
    ) -> Self {
        let archive = MemoryEvents { memory, window };
        Self {
            sessions: MemorySessionStore::with_archive(config, Arc::new(archive)),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &SessionConfig {
        self.sessions.config()
    }
}

#[async_trait]
impl SessionStore for AgentCoreMemorySessionStore {
    async fn checkout(&self, key: &SessionKey) -> Result<SessionTurn, SessionError> {
        self.sessions.checkout(key).await
    }

    /// The history of a session this process holds; `None` for one it would restore.
    async fn history(&self, key: &SessionKey) -> Result<Option<Conversation>, SessionError> {
        self.sessions.history(key).await
    }

    /// The state of a session this process holds; `None` for one it would restore.
    async fn state(&self, key: &SessionKey) -> Result<Option<SessionState>, SessionError> {
        self.sessions.state(key).await
    }

    fn live_sessions(&self) -> Option<usize> {
        self.sessions.live_sessions()
    }
}

impl std::fmt::Display for AgentCoreMemorySessionStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { self.sessions.to_string() };
        formatter.write_str(&text)
    }
}
