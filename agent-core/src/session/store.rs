//! The seam every session backend implements, and the guarantees callers rely on whatever the
//! backend: an invocation checks its session out, works on the history alone, and commits it;
//! anything else — an error, a timeout, a dropped future — leaves the stored history as it was.
//!
//! A turn can only append to its history (and move the window's start), never rewrite it, so
//! "commit or nothing" costs no copy: the in-memory store works on the stored history in place
//! and rolls it back to a checkpoint if the turn is not committed; Redis works on what it loaded
//! and writes it back in the commit.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

use crate::conversation::Conversation;
use crate::message::Message;
use crate::request::RequestInfo;
use crate::session::{DEFAULT_MAX_STATE_BYTES, SessionKey, SessionState};

/// Where sessions live. One handle is shared by every request; no caller knows the backend.
///
/// What every implementation guarantees:
/// - a [`SessionTurn`] gives exclusive use of its session's history from checkout to commit;
///   turns of one session are granted one at a time, in arrival order within a process, and
///   sessions never wait on each other;
/// - a turn waits at most [`SessionConfig::max_wait`] for its session, then fails with
///   [`SessionError::Busy`]; and while [`SessionConfig::max_waiting`] turns already wait for it
///   (in this process), a further one fails at once with [`SessionError::QueueFull`];
/// - the stored history and state change only when a turn commits, together; a turn dropped
///   without committing leaves both as they were;
/// - a session ends [`SessionConfig::idle_timeout`] after its last turn or
///   [`SessionConfig::max_lifetime`] after its first commit, and its key then starts afresh.
///
/// Its `Display` form says where the sessions are kept, for the start-up log; it never holds a
/// secret.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static + std::fmt::Display {
    /// Waits for exclusive use of the session `key`, then loads its history (empty if the
    /// session does not exist or has ended).
    async fn checkout(&self, key: &SessionKey) -> Result<SessionTurn, SessionError>;

    /// The stored history of `key`, read without taking a turn; `None` when no live session has
    /// that key. For inspection — an invocation uses [`SessionStore::checkout`].
    async fn history(&self, key: &SessionKey) -> Result<Option<Conversation>, SessionError>;

    /// The stored state of `key`, read without taking a turn; `None` when no live session has
    /// that key. For inspection, as [`SessionStore::history`].
    async fn state(&self, key: &SessionKey) -> Result<Option<SessionState>, SessionError>;

    /// How many sessions this process holds, for metrics; `None` for a store that holds them
    /// elsewhere.
    fn live_sessions(&self) -> Option<usize> {
        None
    }
}

/// One invocation's exclusive hold on a session: its history and its state, committed or undone
/// as a whole.
///
/// The history can only grow here — [`SessionTurn::push`], or an agent's
/// [`crate::Agent::invoke_in`] — so a backend can always undo the turn.
pub struct SessionTurn {
    key: SessionKey,
    request: Arc<RequestInfo>,
    claim: Box<dyn SessionClaim>,
}

impl SessionTurn {
    /// A turn on the session `key`, held by a backend's `claim`.
    pub fn new(key: SessionKey, claim: Box<dyn SessionClaim>) -> Self {
        Self {
            key,
            request: Arc::default(),
            claim,
        }
    }

    /// The session this turn holds.
    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    /// Names the request this turn serves, so that the agent's tools learn it.
    pub fn set_request(&mut self, request: RequestInfo) {
        self.request = Arc::new(request);
    }

    /// The request this turn serves, as [`SessionTurn::set_request`] named it.
    pub fn request(&self) -> &Arc<RequestInfo> {
        &self.request
    }

    /// The history as loaded, with whatever this turn added so far.
    pub fn conversation(&self) -> &Conversation {
        self.claim.conversation()
    }

    /// Appends a message to the history.
    pub fn push(&mut self, message: Message) {
        self.claim.parts_mut().0.push(message);
    }

    /// The session's state as loaded, with whatever this turn changed so far.
    pub fn state(&self) -> &SessionState {
        self.claim.state()
    }

    /// The session's state, to change; stored only if the turn commits.
    pub fn state_mut(&mut self) -> &mut SessionState {
        self.claim.parts_mut().1
    }

    /// The history and the state at once, for the agent loop.
    pub(crate) fn parts_mut(&mut self) -> (&mut Conversation, &mut SessionState) {
        self.claim.parts_mut()
    }

    /// Stores the history as it now stands and ends the turn.
    pub async fn commit(self) -> Result<(), SessionError> {
        self.claim.commit().await
    }

    /// Ends the turn without storing anything, and waits until the session is free for the
    /// next one. Dropping the turn does the same, partly in the background.
    pub async fn release(self) {
        self.claim.release().await;
    }
}

/// A backend's hold on one session for the length of a turn, with the history it works on.
/// Dropping it without committing must release the session and keep its stored history
/// unchanged.
#[async_trait]
pub trait SessionClaim: Send + Sync {
    /// The history of the turn.
    fn conversation(&self) -> &Conversation;

    /// The state of the turn.
    fn state(&self) -> &SessionState;

    /// The history, to append to, and the state, to change.
    fn parts_mut(&mut self) -> (&mut Conversation, &mut SessionState);

    /// Replaces the stored history and state with the turn's — only if this claim still holds
    /// the session — and releases it.
    async fn commit(self: Box<Self>) -> Result<(), SessionError>;

    /// Releases the session without storing anything; by default, by dropping the claim.
    async fn release(self: Box<Self>) {}
}

/// Lifetimes and limits of a session store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// A session ends this long after its last invocation finished.
    pub idle_timeout: Duration,
    /// A session ends this long after it was created, however busy.
    pub max_lifetime: Duration,
    /// Live sessions one process holds at once (in-memory store only; Redis holds none).
    pub max_sessions: usize,
    /// How long an invocation waits for its session's earlier invocations before giving up.
    pub max_wait: Duration,
    /// Invocations that may wait for one session at once (in this process), beside the one it
    /// serves; a client cannot pile up unbounded work on a session.
    pub max_waiting: usize,
    /// The cap on a session's state, in bytes of its JSON text.
    pub max_state_bytes: usize,
}

impl Default for SessionConfig {
    /// AgentCore Runtime's lifetimes (15 minutes idle, 8 hours in all), 100,000 sessions, and
    /// two minutes of waiting for a busy session, 32 invocations waiting for one at most, 64 KiB
    /// of state.
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(15 * 60),
            max_lifetime: Duration::from_secs(8 * 60 * 60),
            max_sessions: 100_000,
            max_wait: Duration::from_secs(120),
            max_waiting: 32,
            max_state_bytes: DEFAULT_MAX_STATE_BYTES,
        }
    }
}

/// Why a session could not be had or kept. None of them changes a stored history.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The in-memory store is full; the oldest idle session frees its place in `retry_after`.
    #[error(
        "the server holds its maximum of {max} live sessions; retry later or reuse a session id"
    )]
    CapacityReached {
        /// The cap.
        max: usize,
        /// When the oldest idle session ends.
        retry_after_secs: u64,
    },
    /// Earlier invocations of the session held it for longer than the wait allows.
    #[error(
        "session {session} is still busy with earlier invocations after {waited_secs} s of waiting"
    )]
    Busy {
        /// The session waited for.
        session: String,
        /// How long it waited.
        waited_secs: u64,
        /// When to try again.
        retry_after_secs: u64,
    },
    /// As many invocations as allowed already wait for the session.
    #[error(
        "session {session} already has {waiting} invocations waiting for it; retry once they are done"
    )]
    QueueFull {
        /// The session.
        session: String,
        /// Invocations already waiting for it.
        waiting: usize,
        /// When to try again.
        retry_after_secs: u64,
    },
    /// The store could not be reached or failed; nothing was changed.
    #[error("the session store is unavailable: {cause}")]
    Unavailable {
        /// What failed.
        cause: String,
    },
    /// The turn lost its hold on the session (the store was unreachable for longer than a
    /// lease), so its result was not stored.
    #[error(
        "the hold on session {session} was lost before the result could be stored; nothing was committed"
    )]
    LeaseLost {
        /// The session.
        session: String,
    },
    /// The stored value cannot be read (corrupt, or written by an unknown format version). It
    /// is left as it is, never replaced by an empty history.
    #[error("the stored state of session {session} cannot be read: {reason}")]
    Unreadable {
        /// The session.
        session: String,
        /// What is wrong with the stored value.
        reason: String,
    },
}
