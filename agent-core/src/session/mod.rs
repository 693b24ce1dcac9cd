//! Sessions: what names them, the store they live in, and its two backends.
//!
//! - [`id`]: the runtime session id and the owner a session belongs to;
//! - [`store`]: the [`SessionStore`] seam and the guarantees every backend keeps;
//! - [`memory`]: the embedded default, one process's memory;
//! - [`redis`] (feature `redis`): sessions that outlive the process and span replicas.

pub mod id;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
pub mod store;

pub use id::{InvalidSessionId, MAX_SESSION_ID_CHARS, SessionId, SessionKey, SessionOwner};
pub use memory::MemorySessionStore;
#[cfg(feature = "redis")]
pub use redis::{InvalidRedisUrl, RedisOptions, RedisSessionStore};
pub use store::{SessionClaim, SessionConfig, SessionError, SessionStore, SessionTurn};
