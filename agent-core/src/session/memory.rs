//! The embedded session store: every session in this process's memory.
//!
//! A session's history sits behind its own fair (tokio) mutex, so turns of one session are
//! granted in arrival order and different sessions never contend beyond the short map lookup.
//! The map is split into [`SHARDS`] shards by the key's hash, each behind its own lock: an
//! invocation locks only its session's shard, and when the map grows as sessions arrive, one
//! shard is rehashed at a time — about a sixteenth of the sessions, holding only the invocations
//! of that shard — instead of every invocation waiting while all of them are moved.
//! A background task sleeps until the next deadline, or until woken by an earlier one, and drops
//! what has ended, so requests never scan.
//!
//! Given an [`Archive`], the store is that archive's cache: a session it does not hold is
//! restored from the archive when its first turn arrives, and a turn is committed only once the
//! archive has kept it.

use crate::sync::lock;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use async_trait::async_trait;
use tokio::sync::{Notify, OwnedMutexGuard};
use tokio::time::Instant;

use crate::conversation::{Checkpoint, Conversation};
use crate::session::archive::{Archive, ArchiveCursor, Restored};
use crate::session::{
    SessionClaim, SessionConfig, SessionError, SessionKey, SessionState, SessionStore, SessionTurn,
};

/// Handle to the sessions of one process; cheap to clone.
#[derive(Clone)]
pub struct MemorySessionStore {
    shared: Arc<Shared>,
}

/// How many shards the sessions are spread over.
const SHARDS: usize = 16;

struct Shared {
    config: SessionConfig,
    shards: [Mutex<State>; SHARDS],
    /// Picks a key's shard; seeded per process, as the maps' own hashers are, since clients
    /// choose the session ids.
    shard_hasher: RandomState,
    /// Sessions in all shards, held to `max_sessions`.
    live: AtomicUsize,
    /// Wakes the reaper when an earlier deadline appears, or when the store is dropped.
    reaper: Arc<Notify>,
    /// Where committed turns are kept for good, if anywhere.
    archive: Option<Arc<dyn Archive>>,
}

/// One shard's sessions.
#[derive(Default)]
struct State {
    sessions: HashMap<SessionKey, Entry>,
    /// Deadlines of idle sessions only; a session in use is not here, so it is never reaped.
    deadlines: BTreeSet<(Instant, SessionKey)>,
}

/// What a session holds: its history and its state, behind one lock.
struct Stored {
    conversation: Conversation,
    state: SessionState,
    /// Where the archive stands for this session; `None` until restored from it, and again
    /// after an append whose outcome is unknown.
    archived: Option<ArchiveCursor>,
}

struct Entry {
    history: Arc<tokio::sync::Mutex<Stored>>,
    created: Instant,
    deadline: Instant,
    /// Turns holding or waiting for the session.
    claims: usize,
    /// Whether any turn has committed; a session nobody committed to holds nothing and is
    /// dropped when its last claim goes.
    committed: bool,
}

impl MemorySessionStore {
    /// A store whose reaper runs on the current tokio runtime until the last handle is dropped.
    pub fn new(config: SessionConfig) -> Self {
        Self::build(config, None)
    }

    /// A store that keeps every committed turn in `archive` and restores from it the sessions
    /// it does not hold.
    #[cfg(feature = "agentcore-memory")]
    pub(crate) fn with_archive(config: SessionConfig, archive: Arc<dyn Archive>) -> Self {
        Self::build(config, Some(archive))
    }

    fn build(config: SessionConfig, archive: Option<Arc<dyn Archive>>) -> Self {
        let reaper = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            config,
            shards: std::array::from_fn(|_| Mutex::default()),
            shard_hasher: RandomState::new(),
            live: AtomicUsize::new(0),
            reaper: reaper.clone(),
            archive,
        });
        tokio::spawn(purge_expired_sessions(Arc::downgrade(&shared), reaper));
        Self { shared }
    }

    /// The configuration in force.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    /// Number of live sessions, including ones whose first turn is under way.
    pub fn len(&self) -> usize {
        self.shared.live.load(Ordering::Acquire)
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when a live session has this key.
    pub fn contains(&self, key: &SessionKey) -> bool {
        self.shared.lock(key).sessions.contains_key(key)
    }

    /// Turns waiting for the session `key` behind the one it serves.
    pub fn waiting(&self, key: &SessionKey) -> usize {
        self.shared
            .lock(key)
            .sessions
            .get(key)
            .map_or(0, |entry| entry.claims.saturating_sub(1))
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn checkout(&self, key: &SessionKey) -> Result<SessionTurn, SessionError> {
        let history = self.shared.enter(key)?;
        // From here on the claim is counted; dropping `presence` (also when this future is
        // dropped while waiting) gives it back.
        let presence = Presence {
            shared: self.shared.clone(),
            key: key.clone(),
            committed: false,
        };
        let max_wait = self.shared.config.max_wait;
        let mut guard = tokio::time::timeout(max_wait, history.lock_owned())
            .await
            .map_err(|_| SessionError::Busy {
                session: key.id.to_string(),
                waited_secs: max_wait.as_secs(),
                retry_after_secs: BUSY_RETRY_AFTER_SECS,
            })?;
        if let Some(archive) = &self.shared.archive
            && guard.archived.is_none()
        {
            let Restored {
                conversation,
                state,
                cursor,
            } = archive
                .restore(key, self.shared.config.max_state_bytes)
                .await?;
            guard.conversation = conversation;
            guard.state = state;
            guard.archived = Some(cursor);
        }
        let checkpoint = guard.conversation.checkpoint();
        // What to put back if the turn is not committed; an empty state costs nothing to keep.
        let state_before = guard.state.clone();
        Ok(SessionTurn::new(
            key.clone(),
            Box::new(MemoryClaim {
                guard,
                checkpoint,
                state_before,
                committed: false,
                presence,
            }),
        ))
    }

    async fn history(&self, key: &SessionKey) -> Result<Option<Conversation>, SessionError> {
        let Some(stored) = self.shared.live(key) else {
            return Ok(None);
        };
        let conversation = stored.lock().await.conversation.clone();
        Ok(Some(conversation))
    }

    async fn state(&self, key: &SessionKey) -> Result<Option<SessionState>, SessionError> {
        let Some(stored) = self.shared.live(key) else {
            return Ok(None);
        };
        let state = stored.lock().await.state.clone();
        Ok(Some(state))
    }

    fn live_sessions(&self) -> Option<usize> {
        Some(self.len())
    }
}

impl std::fmt::Display for MemorySessionStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = {
            let max = self.shared.config.max_sessions;
            match &self.shared.archive {
                Some(archive) => format!("{} (held in memory: at most {max} sessions)", archive),
                None => format!("memory (at most {max} sessions)"),
            }
        };
        formatter.write_str(&text)
    }
}

/// What a client told to retry a busy session waits, in seconds.
const BUSY_RETRY_AFTER_SECS: u64 = 5;

/// A turn's hold: the session's lock, where its history stood and what its state was, and its
/// count in the session's claims. The turn works on the stored session in place; unless
/// committed, it is rolled back.
struct MemoryClaim {
    guard: OwnedMutexGuard<Stored>,
    checkpoint: Checkpoint,
    state_before: SessionState,
    committed: bool,
    presence: Presence,
}

#[async_trait]
impl SessionClaim for MemoryClaim {
    fn conversation(&self) -> &Conversation {
        &self.guard.conversation
    }

    fn state(&self) -> &SessionState {
        &self.guard.state
    }

    fn parts_mut(&mut self) -> (&mut Conversation, &mut SessionState) {
        let stored = &mut *self.guard;
        (&mut stored.conversation, &mut stored.state)
    }

    async fn commit(mut self: Box<Self>) -> Result<(), SessionError> {
        if let Some(archive) = self.presence.shared.archive.clone() {
            let stored = &mut *self.guard;
            let (_, turn) = stored.conversation.changes_since(self.checkpoint);
            // A turn that changed nothing has nothing to keep.
            if !turn.is_empty() || stored.state != self.state_before {
                let cursor = stored.archived.take().unwrap_or_default();
                // Until the append is known to have succeeded, the session is restored afresh
                // before its next turn (`archived` stays `None`); dropping `self` on error
                // rolls the turn back here.
                let cursor = archive
                    .append(&self.presence.key, cursor, turn, &stored.state)
                    .await?;
                self.guard.archived = Some(cursor);
            }
        }
        self.guard.conversation.keep();
        self.committed = true;
        self.presence.committed = true;
        Ok(())
    }
}

impl Drop for MemoryClaim {
    fn drop(&mut self) {
        if !self.committed {
            let checkpoint = self.checkpoint;
            self.guard.conversation.rollback(checkpoint);
            self.guard.state = std::mem::take(&mut self.state_before);
        }
    }
}

/// A counted claim on a session; the last one out schedules its expiry.
struct Presence {
    shared: Arc<Shared>,
    key: SessionKey,
    committed: bool,
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.shared.leave(&self.key, self.committed);
    }
}

impl Entry {
    fn has_ended(&self, now: Instant) -> bool {
        self.claims == 0 && self.deadline <= now
    }
}

impl Shared {
    /// The shard of `key`, locked.
    fn lock(&self, key: &SessionKey) -> MutexGuard<'_, State> {
        let shard = self.shard_hasher.hash_one(key) as usize % SHARDS;
        lock(&self.shards[shard])
    }

    /// The earliest deadline of an idle session in any shard, each locked in turn.
    fn earliest_deadline(&self) -> Option<Instant> {
        self.shards
            .iter()
            .filter_map(|shard| lock(shard).deadlines.first().map(|(when, _)| *when))
            .min()
    }

    /// The session `key` if some turn committed to it and it has not ended, for inspection.
    fn live(&self, key: &SessionKey) -> Option<Arc<tokio::sync::Mutex<Stored>>> {
        let state = self.lock(key);
        state
            .sessions
            .get(key)
            .filter(|entry| entry.committed && !entry.has_ended(Instant::now()))
            .map(|entry| entry.history.clone())
    }

    /// Counts a claim on `key`, creating the session if it does not exist or has ended.
    fn enter(&self, key: &SessionKey) -> Result<Arc<tokio::sync::Mutex<Stored>>, SessionError> {
        let now = Instant::now();
        let mut state = self.lock(key);
        let State {
            sessions,
            deadlines,
        } = &mut *state;
        if let Some(entry) = sessions.get(key)
            && entry.has_ended(now)
        {
            deadlines.remove(&(entry.deadline, key.clone()));
            sessions.remove(key);
            self.live.fetch_sub(1, Ordering::AcqRel);
        }
        if let Some(entry) = sessions.get_mut(key) {
            let waiting = entry.claims.saturating_sub(1);
            if waiting >= self.config.max_waiting {
                return Err(SessionError::QueueFull {
                    session: key.id.to_string(),
                    waiting,
                    retry_after_secs: BUSY_RETRY_AFTER_SECS,
                });
            }
            if entry.claims == 0 {
                deadlines.remove(&(entry.deadline, key.clone()));
            }
            entry.claims += 1;
            return Ok(entry.history.clone());
        }
        let max = self.config.max_sessions;
        let counted = self
            .live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                (live < max).then_some(live + 1)
            });
        if counted.is_err() {
            // The other shards are looked at only once this one is let go.
            drop(state);
            let retry_after_secs = self
                .earliest_deadline()
                .map_or(self.config.idle_timeout.as_secs(), |when| {
                    when.saturating_duration_since(now).as_secs() + 1
                });
            return Err(SessionError::CapacityReached {
                max,
                retry_after_secs,
            });
        }
        let history = Arc::new(tokio::sync::Mutex::new(Stored {
            conversation: Conversation::new(),
            state: SessionState::new(self.config.max_state_bytes),
            archived: None,
        }));
        sessions.insert(
            key.clone(),
            Entry {
                history: history.clone(),
                created: now,
                deadline: now + self.config.max_lifetime,
                claims: 1,
                committed: false,
            },
        );
        Ok(history)
    }

    /// Gives back a claim; the last one out schedules the session's expiry, or drops a session
    /// no turn ever committed to.
    fn leave(&self, key: &SessionKey, committed: bool) {
        let now = Instant::now();
        let mut state = self.lock(key);
        let State {
            sessions,
            deadlines,
        } = &mut *state;
        let Some(entry) = sessions.get_mut(key) else {
            return;
        };
        entry.committed |= committed;
        entry.claims -= 1;
        if entry.claims > 0 {
            return;
        }
        if !entry.committed {
            sessions.remove(key);
            self.live.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        entry.deadline =
            (now + self.config.idle_timeout).min(entry.created + self.config.max_lifetime);
        // The reaper sleeps until the earliest deadline of all shards, which is no later than
        // this shard's: a deadline earlier than this shard's may be earlier than that too.
        let earliest = deadlines.first().map(|(when, _)| *when);
        deadlines.insert((entry.deadline, key.clone()));
        if earliest.is_none_or(|earliest| entry.deadline < earliest) {
            self.reaper.notify_one();
        }
    }

    /// Drops every idle session past its deadline, a shard at a time; returns the next
    /// deadline, if any.
    fn purge_expired(&self) -> Option<Instant> {
        let now = Instant::now();
        self.shards
            .iter()
            .filter_map(|shard| self.purge_shard(&mut lock(shard), now))
            .min()
    }

    /// Drops the idle sessions of one shard past their deadline; returns its next deadline.
    fn purge_shard(&self, state: &mut State, now: Instant) -> Option<Instant> {
        let State {
            sessions,
            deadlines,
        } = state;
        while let Some((when, key)) = deadlines.first().cloned() {
            if when > now {
                return Some(when);
            }
            deadlines.pop_first();
            sessions.remove(&key);
            self.live.fetch_sub(1, Ordering::AcqRel);
            tracing::debug!(session_id = %key.id, "session expired");
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
    use std::time::Duration;

    use super::*;
    use crate::message::Message;
    use crate::session::{SessionId, SessionOwner};

    fn key(text: &str) -> SessionKey {
        SessionKey::anonymous(SessionId::parse(text).unwrap())
    }

    fn config() -> SessionConfig {
        SessionConfig {
            max_sessions: 3,
            ..SessionConfig::default()
        }
    }

    /// Lets the reaper task run after time moved.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    /// One committed turn that appends `text`.
    async fn say(store: &MemorySessionStore, key: &SessionKey, text: &str) {
        let mut turn = store.checkout(key).await.unwrap();
        turn.push(Message::user(text));
        turn.commit().await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_own_separate_conversations() {
        let store = MemorySessionStore::new(config());
        say(&store, &key("one"), "for one").await;

        let again = store.checkout(&key("one")).await.unwrap();
        assert_eq!(again.conversation().len(), 1);
        let other = store.checkout(&key("two")).await.unwrap();
        assert!(other.conversation().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_id_under_another_owner_is_another_session() {
        let store = MemorySessionStore::new(config());
        let id = SessionId::parse("shared-id").unwrap();
        let first = SessionKey::new(SessionOwner::user("1"), id.clone());
        let second = SessionKey::new(SessionOwner::user("2"), id);
        say(&store, &first, "mine").await;

        assert_eq!(store.history(&second).await.unwrap(), None);
        assert!(
            store
                .checkout(&second)
                .await
                .unwrap()
                .conversation()
                .is_empty()
        );
        assert_eq!(store.history(&first).await.unwrap().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_dropped_without_commit_changes_nothing() {
        let store = MemorySessionStore::new(config());
        say(&store, &key("one"), "kept").await;
        let mut turn = store.checkout(&key("one")).await.unwrap();
        turn.push(Message::user("lost"));
        drop(turn);
        assert_eq!(
            store
                .history(&key("one"))
                .await
                .unwrap()
                .unwrap()
                .messages(),
            [Message::user("kept")]
        );

        let mut first = store.checkout(&key("new")).await.unwrap();
        first.push(Message::user("lost"));
        drop(first);
        assert!(
            !store.contains(&key("new")),
            "nothing committed, nothing held"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_uncommitted_turn_that_moved_the_window_is_undone_whole() {
        let store = MemorySessionStore::new(config());
        for text in ["one", "two", "three"] {
            say(&store, &key("w"), text).await;
        }
        let before = store.history(&key("w")).await.unwrap().unwrap();
        let mut turn = store.checkout(&key("w")).await.unwrap();
        turn.push(Message::user("four"));
        crate::SlidingWindow { max_messages: 1 }.apply(turn.parts_mut().0);
        assert_eq!(turn.conversation().messages(), [Message::user("four")]);
        drop(turn);
        assert_eq!(store.history(&key("w")).await.unwrap().unwrap(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_sessions_expire_and_the_id_starts_afresh() {
        let store = MemorySessionStore::new(config());
        say(&store, &key("one"), "hello").await;

        tokio::time::advance(Duration::from_secs(14 * 60)).await;
        settle().await;
        assert!(store.contains(&key("one")));

        tokio::time::advance(Duration::from_secs(61)).await;
        settle().await;
        assert!(!store.contains(&key("one")), "reaped after 15 idle minutes");

        let fresh = store.checkout(&key("one")).await.unwrap();
        assert!(fresh.conversation().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn each_invocation_restarts_the_idle_clock() {
        let store = MemorySessionStore::new(config());
        for _ in 0..5 {
            say(&store, &key("one"), "again").await;
            tokio::time::advance(Duration::from_secs(10 * 60)).await;
            settle().await;
            assert!(store.contains(&key("one")));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_in_use_is_not_reaped_and_ends_at_its_lifetime_once_released() {
        let store = MemorySessionStore::new(config());
        say(&store, &key("busy"), "first").await;
        let turn = store.checkout(&key("busy")).await.unwrap();
        tokio::time::advance(Duration::from_secs(9 * 60 * 60)).await;
        settle().await;
        assert!(store.contains(&key("busy")), "never reaped under a turn");
        turn.commit().await.unwrap();
        settle().await;
        assert!(
            !store.contains(&key("busy")),
            "past its 8 hours, it ends once idle"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_end_after_their_lifetime_however_busy() {
        let store = MemorySessionStore::new(config());
        for _ in 0..(8 * 6 - 1) {
            say(&store, &key("chatty"), "again").await;
            tokio::time::advance(Duration::from_secs(10 * 60)).await;
            settle().await;
        }
        assert!(store.contains(&key("chatty")));
        tokio::time::advance(Duration::from_secs(10 * 60)).await;
        settle().await;
        assert!(!store.contains(&key("chatty")));
    }

    #[tokio::test(start_paused = true)]
    async fn the_cap_and_the_count_span_every_shard() {
        let max = 3 * SHARDS;
        let store = MemorySessionStore::new(SessionConfig {
            max_sessions: max,
            ..SessionConfig::default()
        });
        for n in 0..max {
            say(&store, &key(&format!("session-{n}")), "hi").await;
        }
        assert_eq!(store.len(), max);
        assert!(matches!(
            store.checkout(&key("one-more")).await.err(),
            Some(SessionError::CapacityReached { .. })
        ));
        tokio::time::advance(Duration::from_secs(16 * 60)).await;
        settle().await;
        assert!(store.is_empty(), "every shard's idle sessions expire");
        say(&store, &key("one-more"), "hi").await;
        assert_eq!(store.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sessions_created_at_once_never_exceed_the_cap() {
        let max = 50;
        let store = MemorySessionStore::new(SessionConfig {
            max_sessions: max,
            ..SessionConfig::default()
        });
        let attempts: Vec<_> = (0..4 * max)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move { store.checkout(&key(&format!("burst-{n}"))).await })
            })
            .collect();
        let mut turns = Vec::new();
        for attempt in attempts {
            if let Ok(turn) = attempt.await.unwrap() {
                turns.push(turn);
            }
        }
        assert_eq!(turns.len(), max, "exactly the cap is admitted");
        assert_eq!(store.len(), max);
        drop(turns);
        assert!(
            store.is_empty(),
            "first turns given back uncommitted leave no session behind"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn capacity_is_enforced_and_freed_by_expiry() {
        let store = MemorySessionStore::new(config());
        for name in ["a", "b", "c"] {
            say(&store, &key(name), "hi").await;
        }
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            store.checkout(&key("d")).await.err(),
            Some(SessionError::CapacityReached {
                max: 3,
                retry_after_secs: 14 * 60 + 1
            }),
            "Retry-After is when the oldest idle session ends"
        );
        assert!(
            store.checkout(&key("a")).await.is_ok(),
            "existing sessions still work"
        );
        tokio::time::advance(Duration::from_secs(16 * 60)).await;
        settle().await;
        assert!(store.checkout(&key("d")).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn turns_on_one_session_are_granted_in_arrival_order_and_see_each_other() {
        let store = MemorySessionStore::new(config());
        let first = store.checkout(&key("s")).await.unwrap();
        let mut waiters = Vec::new();
        for n in 0..5 {
            let store = store.clone();
            waiters.push(tokio::spawn(async move {
                let mut turn = store.checkout(&key("s")).await.unwrap();
                turn.push(Message::user(n.to_string()));
                turn.commit().await.unwrap();
            }));
            settle().await;
        }
        first.commit().await.unwrap();
        for waiter in waiters {
            waiter.await.unwrap();
        }
        let history = store.history(&key("s")).await.unwrap().unwrap();
        let texts: Vec<String> = history.messages().iter().map(Message::text).collect();
        assert_eq!(texts, ["0", "1", "2", "3", "4"], "no lost update, in order");
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_waits_at_most_max_wait_then_the_session_is_busy() {
        let store = MemorySessionStore::new(config());
        let _holder = store.checkout(&key("s")).await.unwrap();
        let error = store.checkout(&key("s")).await.err().unwrap();
        assert!(
            matches!(&error, SessionError::Busy { session, waited_secs: 120, .. } if session == "s"),
            "{error:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_line_for_a_session_is_refused_at_once() {
        let store = MemorySessionStore::new(SessionConfig {
            max_waiting: 2,
            ..config()
        });
        let holder = store.checkout(&key("s")).await.unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.checkout(&key("s")).await.map(drop) })
            })
            .collect();
        settle().await;
        let refused = store.checkout(&key("s")).await.err().unwrap();
        assert!(
            matches!(&refused, SessionError::QueueFull { waiting: 2, .. }),
            "{refused:?}"
        );
        assert!(
            store.checkout(&key("other")).await.is_ok(),
            "other sessions are not held up"
        );
        drop(holder);
        for waiter in waiters {
            waiter.await.unwrap().unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_reaper_stops_with_the_store() {
        let store = MemorySessionStore::new(config());
        let weak = Arc::downgrade(&store.shared);
        drop(store);
        settle().await;
        assert!(weak.upgrade().is_none());
    }
}
