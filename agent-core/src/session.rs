//! Sessions keyed by the runtime session id, each owning its own conversation.
//!
//! One `SessionStore` handle is shared by every request. A session is created on its first
//! invocation and ends 15 minutes after its last one or 8 hours after creation, like an
//! AgentCore Runtime microVM; its state is then dropped. A background task sleeps until the
//! next deadline, or until woken by an earlier one, so requests never scan.
//!
//! Invocations on one session take its conversation lock in arrival order (tokio's mutex is
//! fair), so a second concurrent request waits its turn; different sessions never contend
//! beyond the short map lookup.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{MutexGuard, Notify};
use tokio::time::Instant;

use crate::conversation::Conversation;

/// Longest accepted session id, in characters.
pub const MAX_SESSION_ID_CHARS: usize = 256;

/// A validated runtime session id: 1 to 256 characters, none of them control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Arc<str>);

/// Why a session id was refused.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum InvalidSessionId {
    #[error("session id is empty")]
    Empty,
    #[error("session id is {0} characters long; at most {MAX_SESSION_ID_CHARS} are allowed")]
    TooLong(usize),
    #[error("session id contains a control character")]
    ControlCharacter,
}

impl SessionId {
    /// Checks and wraps a client-supplied id.
    pub fn parse(id: &str) -> Result<Self, InvalidSessionId> {
        let chars = id.chars().count();
        if chars == 0 {
            return Err(InvalidSessionId::Empty);
        }
        if chars > MAX_SESSION_ID_CHARS {
            return Err(InvalidSessionId::TooLong(chars));
        }
        if id.chars().any(char::is_control) {
            return Err(InvalidSessionId::ControlCharacter);
        }
        Ok(Self(id.into()))
    }

    /// A fresh random id (a UUID v4, as AgentCore issues).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string().into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lifetimes and capacity of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// A session ends this long after its last invocation finished.
    pub idle_timeout: Duration,
    /// A session ends this long after it was created, however busy.
    pub max_lifetime: Duration,
    /// Live sessions allowed at once; a new one beyond it is refused.
    pub max_sessions: usize,
}

impl Default for SessionConfig {
    /// AgentCore Runtime's lifetimes (15 minutes idle, 8 hours in all), 100,000 sessions.
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(15 * 60),
            max_lifetime: Duration::from_secs(8 * 60 * 60),
            max_sessions: 100_000,
        }
    }
}

/// Why a session could not be had.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SessionError {
    #[error(
        "the server holds its maximum of {max} live sessions; retry later or reuse a session id"
    )]
    CapacityReached { max: usize },
}

/// Handle to the sessions of one process; cheap to clone.
#[derive(Clone)]
pub struct SessionStore {
    shared: Arc<Shared>,
}

struct Shared {
    config: SessionConfig,
    state: Mutex<State>,
    /// Wakes the reaper when an earlier deadline appears, or when the store is dropped.
    reaper: Arc<Notify>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<SessionId, Entry>,
    /// Deadlines of idle sessions only; a session in use is not here, so it is never reaped.
    deadlines: BTreeSet<(Instant, SessionId)>,
}

struct Entry {
    session: Arc<Session>,
    created: Instant,
    deadline: Instant,
    leases: usize,
}

/// The state one session owns.
pub struct Session {
    id: SessionId,
    conversation: tokio::sync::Mutex<Conversation>,
}

impl Session {
    /// The session's id.
    pub fn id(&self) -> &SessionId {
        &self.id
    }
}

/// A claim on a session for the length of one invocation; the session cannot expire under it.
pub struct SessionLease {
    shared: Arc<Shared>,
    session: Arc<Session>,
    created_now: bool,
}

impl SessionLease {
    /// The session's id.
    pub fn id(&self) -> &SessionId {
        &self.session.id
    }

    /// True when this lease created the session.
    pub fn is_new(&self) -> bool {
        self.created_now
    }

    /// Waits for this session's earlier invocations, then gives exclusive access to its history.
    pub async fn conversation(&self) -> MutexGuard<'_, Conversation> {
        self.session.conversation.lock().await
    }
}

impl Drop for SessionLease {
    fn drop(&mut self) {
        self.shared.release(&self.session.id);
    }
}

impl SessionStore {
    /// A store whose reaper runs on the current tokio runtime until the last handle is dropped.
    pub fn new(config: SessionConfig) -> Self {
        let reaper = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State::default()),
            reaper: reaper.clone(),
        });
        tokio::spawn(purge_expired_sessions(Arc::downgrade(&shared), reaper));
        Self { shared }
    }

    /// The configuration in force.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    /// Claims the session `id`, creating it if it does not exist or has ended.
    pub fn acquire(&self, id: &SessionId) -> Result<SessionLease, SessionError> {
        let now = Instant::now();
        let mut state = self.shared.lock();
        let State {
            sessions,
            deadlines,
        } = &mut *state;
        if let Some(entry) = sessions.get(id)
            && entry.leases == 0
            && entry.deadline <= now
        {
            deadlines.remove(&(entry.deadline, id.clone()));
            sessions.remove(id);
        }
        if let Some(entry) = sessions.get_mut(id) {
            if entry.leases == 0 {
                deadlines.remove(&(entry.deadline, id.clone()));
            }
            entry.leases += 1;
            return Ok(SessionLease {
                shared: self.shared.clone(),
                session: entry.session.clone(),
                created_now: false,
            });
        }
        let max = self.shared.config.max_sessions;
        if sessions.len() >= max {
            return Err(SessionError::CapacityReached { max });
        }
        let session = Arc::new(Session {
            id: id.clone(),
            conversation: tokio::sync::Mutex::new(Conversation::new()),
        });
        sessions.insert(
            id.clone(),
            Entry {
                session: session.clone(),
                created: now,
                deadline: now + self.shared.config.max_lifetime,
                leases: 1,
            },
        );
        Ok(SessionLease {
            shared: self.shared.clone(),
            session,
            created_now: true,
        })
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.shared.lock().sessions.len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when a live session has this id.
    pub fn contains(&self, id: &SessionId) -> bool {
        self.shared.lock().sessions.contains_key(id)
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The lock is never held across a panic point that leaves the maps inconsistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ends a lease; the last one out schedules the session's expiry.
    fn release(&self, id: &SessionId) {
        let now = Instant::now();
        let mut state = self.lock();
        let State {
            sessions,
            deadlines,
        } = &mut *state;
        let Some(entry) = sessions.get_mut(id) else {
            return;
        };
        entry.leases -= 1;
        if entry.leases > 0 {
            return;
        }
        entry.deadline =
            (now + self.config.idle_timeout).min(entry.created + self.config.max_lifetime);
        let earliest = deadlines.first().map(|(when, _)| *when);
        deadlines.insert((entry.deadline, id.clone()));
        if earliest.is_none_or(|earliest| entry.deadline < earliest) {
            self.reaper.notify_one();
        }
    }

    /// Drops every idle session past its deadline; returns the next deadline, if any.
    fn purge_expired(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut state = self.lock();
        let State {
            sessions,
            deadlines,
        } = &mut *state;
        while let Some((when, id)) = deadlines.first().cloned() {
            if when > now {
                return Some(when);
            }
            deadlines.pop_first();
            sessions.remove(&id);
            tracing::debug!(session_id = %id, "session expired");
        }
        None
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.reaper.notify_one();
    }
}

/// The reaper: sleeps until the next deadline or a wake-up, purges, and exits with the store.
async fn purge_expired_sessions(shared: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        let next = match shared.upgrade() {
            Some(shared) => shared.purge_expired(),
            None => return,
        };
        match next {
            Some(when) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(when) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn id(text: &str) -> SessionId {
        SessionId::parse(text).unwrap()
    }

    fn config() -> SessionConfig {
        SessionConfig {
            idle_timeout: Duration::from_secs(15 * 60),
            max_lifetime: Duration::from_secs(8 * 60 * 60),
            max_sessions: 3,
        }
    }

    /// Lets the reaper task run after time moved.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[test]
    fn session_ids_are_validated() {
        assert_eq!(SessionId::parse(""), Err(InvalidSessionId::Empty));
        assert_eq!(
            SessionId::parse(&"a".repeat(257)),
            Err(InvalidSessionId::TooLong(257))
        );
        assert!(SessionId::parse(&"é".repeat(256)).is_ok());
        assert_eq!(
            SessionId::parse("a\nb"),
            Err(InvalidSessionId::ControlCharacter)
        );
        assert_eq!(
            SessionId::parse("a\u{7f}"),
            Err(InvalidSessionId::ControlCharacter)
        );
        assert_eq!(SessionId::generate().as_str().len(), 36);
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_own_separate_conversations() {
        let store = SessionStore::new(config());
        let first = store.acquire(&id("one")).unwrap();
        assert!(first.is_new());
        first.conversation().await.push(Message::user("for one"));
        drop(first);

        let again = store.acquire(&id("one")).unwrap();
        assert!(!again.is_new());
        assert_eq!(again.conversation().await.len(), 1);
        let other = store.acquire(&id("two")).unwrap();
        assert!(other.conversation().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_sessions_expire_and_the_id_starts_afresh() {
        let store = SessionStore::new(config());
        let lease = store.acquire(&id("one")).unwrap();
        lease.conversation().await.push(Message::user("hello"));
        drop(lease);

        tokio::time::advance(Duration::from_secs(14 * 60)).await;
        settle().await;
        assert!(store.contains(&id("one")));

        tokio::time::advance(Duration::from_secs(61)).await;
        settle().await;
        assert!(!store.contains(&id("one")), "reaped after 15 idle minutes");

        let fresh = store.acquire(&id("one")).unwrap();
        assert!(fresh.is_new());
        assert!(fresh.conversation().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn each_invocation_restarts_the_idle_clock() {
        let store = SessionStore::new(config());
        for _ in 0..5 {
            drop(store.acquire(&id("one")).unwrap());
            tokio::time::advance(Duration::from_secs(10 * 60)).await;
            settle().await;
            assert!(store.contains(&id("one")));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_in_use_is_not_reaped_and_ends_at_its_lifetime_once_released() {
        let store = SessionStore::new(config());
        let lease = store.acquire(&id("busy")).unwrap();
        tokio::time::advance(Duration::from_secs(9 * 60 * 60)).await;
        settle().await;
        assert!(store.contains(&id("busy")), "never reaped under a lease");
        drop(lease);
        settle().await;
        assert!(
            !store.contains(&id("busy")),
            "past its 8 hours, it ends once idle"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_end_after_their_lifetime_however_busy() {
        let store = SessionStore::new(config());
        for _ in 0..(8 * 6 - 1) {
            drop(store.acquire(&id("chatty")).unwrap());
            tokio::time::advance(Duration::from_secs(10 * 60)).await;
            settle().await;
        }
        assert!(store.contains(&id("chatty")));
        tokio::time::advance(Duration::from_secs(10 * 60)).await;
        settle().await;
        assert!(!store.contains(&id("chatty")));
    }

    #[tokio::test(start_paused = true)]
    async fn capacity_is_enforced_and_freed_by_expiry() {
        let store = SessionStore::new(config());
        for name in ["a", "b", "c"] {
            drop(store.acquire(&id(name)).unwrap());
        }
        assert_eq!(
            store.acquire(&id("d")).err(),
            Some(SessionError::CapacityReached { max: 3 })
        );
        assert!(
            store.acquire(&id("a")).is_ok(),
            "existing sessions still work"
        );
        tokio::time::advance(Duration::from_secs(16 * 60)).await;
        settle().await;
        assert!(store.acquire(&id("d")).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn invocations_on_one_session_take_turns_in_arrival_order() {
        let store = SessionStore::new(config());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = store.acquire(&id("s")).unwrap();
        let guard = first.conversation().await;
        let mut waiters = Vec::new();
        for n in 0..5 {
            let store = store.clone();
            let order = order.clone();
            waiters.push(tokio::spawn(async move {
                let lease = store.acquire(&id("s")).unwrap();
                let mut conversation = lease.conversation().await;
                conversation.push(Message::user(n.to_string()));
                order.lock().unwrap().push(n);
            }));
            settle().await;
        }
        drop(guard);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_reaper_stops_with_the_store() {
        let store = SessionStore::new(config());
        let weak = Arc::downgrade(&store.shared);
        drop(store);
        settle().await;
        assert!(weak.upgrade().is_none());
    }
}
