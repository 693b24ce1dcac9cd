//! Sessions: what names them, the store they live in, and its two backends.
//!
//! - `id`: the runtime session id and the owner a session belongs to;
//! - `store`: the [`SessionStore`] seam and the guarantees every backend keeps;
//! - `state`: the application state a session keeps beside its conversation ([`SessionState`]);
//! - `memory`: the embedded default, one process's memory ([`MemorySessionStore`]);
//! - `redis` (feature `redis`): sessions that outlive the process and span replicas
//!   (`RedisSessionStore`);
//! - `agentcore_memory` (feature `agentcore-memory`): sessions kept in AgentCore Memory and
//!   served from this process (`AgentCoreMemorySessionStore`), on
//! - `archive`: the seam through which the in-memory store keeps its turns elsewhere.
//!
//! Every item is reached as `agent_core::session::Item`; the files are the rooms, not paths.

#[cfg(feature = "agentcore-memory")]
pub(crate) mod agentcore_memory;
mod archive;
mod id;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod state;
mod store;

#[cfg(feature = "agentcore-memory")]
pub use agentcore_memory::{
    AgentCoreMemory, AgentCoreMemorySessionStore, InvalidMemoryId, MemoryId,
};
pub use id::{InvalidSessionId, MAX_SESSION_ID_CHARS, SessionId, SessionKey, SessionOwner};
pub use memory::MemorySessionStore;
#[cfg(feature = "redis")]
pub use redis::{InvalidRedisUrl, RedisOptions, RedisSessionStore};
pub use state::{DEFAULT_MAX_STATE_BYTES, SessionState, StateError};
pub use store::{SessionClaim, SessionConfig, SessionError, SessionStore, SessionTurn};
