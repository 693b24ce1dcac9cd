//! The durable copy behind a store that holds its sessions in this process: every committed turn
//! is appended to it, and a session the process does not hold — after a restart, on a new
//! microVM, on another replica — is restored from it.
//!
//! The in-memory store does the rest (one turn at a time, waiting, lifetimes), so a backend that
//! is an archive writes only at commit and reads only when a session arrives.

use async_trait::async_trait;

use crate::conversation::Conversation;
use crate::message::Message;
use crate::session::{SessionError, SessionKey, SessionState};

/// Where committed turns are kept for good.
///
/// Its `Display` form says where turns are kept, for the start-up log.
#[async_trait]
pub(crate) trait Archive: Send + Sync + 'static + std::fmt::Display {
    /// The session as archived: empty when nothing was.
    async fn restore(
        &self,
        key: &SessionKey,
        max_state_bytes: usize,
    ) -> Result<Restored, SessionError>;

    /// Keeps one committed turn — the messages it appended and the state after it — after the
    /// archive's position `cursor`; returns the new position. Either the whole turn is kept or,
    /// on error, possibly nothing: the caller then restores the session afresh before its next
    /// turn, so it never works on a history the archive does not hold.
    async fn append(
        &self,
        key: &SessionKey,
        cursor: ArchiveCursor,
        turn: &[Message],
        state: &SessionState,
    ) -> Result<ArchiveCursor, SessionError>;
}

/// A session as restored from its archive.
pub(crate) struct Restored {
    /// The history.
    pub conversation: Conversation,
    /// The state after the last turn.
    pub state: SessionState,
    /// Where the archive stands for this session, for the next append.
    pub cursor: ArchiveCursor,
}

/// The archive's own position in a session (for AgentCore Memory, the latest event's time), kept
/// with the session in memory and handed back on the next append.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ArchiveCursor(pub i64);
