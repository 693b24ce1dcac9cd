//! Sessions in Redis (or Valkey, ElastiCache, MemoryDB): they outlive the process and are
//! shared by every replica pointed at the same server.
//!
//! A turn joins the session's line in this process, takes the session's lease in Redis (waiting
//! with bounded backoff while another replica holds it), loads the history, and commits it with
//! a script that checks the lease token first. Redis expires every key by itself — the history at
//! min(last invocation + idle timeout, creation + lifetime), the lease after its short TTL — so
//! nothing is left behind when every replica is gone, and the process keeps no idle session.

mod connection;
mod keys;
mod lease;
mod local_queue;
mod record;
mod scripts;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::{FromRedisValue, Script, ScriptInvocation};
use thiserror::Error;
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use crate::conversation::{Checkpoint, Conversation};
use crate::session::{
    SessionClaim, SessionConfig, SessionError, SessionKey, SessionState, SessionStore, SessionTurn,
};
use connection::Connector;
use keys::SessionKeys;
use lease::{Lease, LeaseRefusal};
use local_queue::{LocalQueue, QueuePlace};
use record::{FORMAT_VERSION, RawRecord, StoredSession, encode_messages};
use scripts::{COMMIT, INSPECT};

/// How the Redis store names its keys and bounds its waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Prefix of every key, so several deployments can share one Redis.
    pub key_prefix: String,
    /// How long a lease outlives a replica that stopped renewing it (died or cut off).
    pub lease_ttl: Duration,
    /// The longest one Redis command may take, connecting included, before the invocation
    /// answers that the store is unavailable.
    pub command_timeout: Duration,
}

impl Default for RedisOptions {
    /// Keys under `agentcore:`, 10-second leases, 2-second commands.
    fn default() -> Self {
        Self {
            key_prefix: "agentcore:".to_owned(),
            lease_ttl: Duration::from_secs(10),
            command_timeout: Duration::from_secs(2),
        }
    }
}

/// The Redis URL could not be used.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("invalid Redis URL: {0}")]
pub struct InvalidRedisUrl(String);

/// `url` as the redis crate reads it: `redis://`, `rediss://`, `valkey://`, `valkeys://` and the
/// Unix-socket forms.
fn connection_info(url: &str) -> Result<redis::ConnectionInfo, InvalidRedisUrl> {
    redis::IntoConnectionInfo::into_connection_info(url)
        .map_err(|error| InvalidRedisUrl(error.to_string()))
}

/// Handle to sessions kept in Redis; cheap to clone.
#[derive(Clone)]
pub struct RedisSessionStore {
    link: Arc<Link>,
    queue: Arc<LocalQueue>,
}

/// The connection and the settings every operation needs.
struct Link {
    connector: Connector,
    sessions: SessionConfig,
    options: RedisOptions,
    address: String,
}

impl RedisSessionStore {
    /// Checks `url` as [`RedisSessionStore::open`] reads it, without connecting: for a
    /// configuration read at start-up, so a bad URL is refused where it was given.
    pub fn check_url(url: &str) -> Result<(), InvalidRedisUrl> {
        connection_info(url).map(drop)
    }

    /// A store on `url` (`redis://[user:password@]host:port[/db]`, or `rediss://` for TLS).
    ///
    /// Connects lazily and reconnects by itself: the server starts while Redis is down, answers
    /// "unavailable" meanwhile, and recovers once Redis is back. Needs a tokio runtime.
    pub fn open(
        url: &str,
        sessions: SessionConfig,
        options: RedisOptions,
    ) -> Result<Self, InvalidRedisUrl> {
        let invalid = |error: redis::RedisError| InvalidRedisUrl(error.to_string());
        let info = connection_info(url)?;
        // Small commands from many invocations share one connection: without TCP_NODELAY each
        // can wait for the ACK of the one before (Nagle's algorithm).
        let info = info.set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
        let address = format!(
            "{}://{}/{}",
            if tls { "rediss" } else { "redis" },
            info.addr(),
            info.redis_settings().db()
        );
        let connector = Connector::new(info, options.command_timeout).map_err(invalid)?;
        Ok(Self {
            link: Arc::new(Link {
                connector,
                sessions,
                options,
                address,
            }),
            queue: Arc::default(),
        })
    }

    /// Invocations of this process waiting for the session `key` behind the one it serves.
    pub fn waiting(&self, key: &SessionKey) -> usize {
        self.queue.waiting(key)
    }

    /// Reads the session behind `keys` without taking its lease.
    async fn read(
        &self,
        key: &SessionKey,
        keys: &SessionKeys,
    ) -> Result<Option<StoredSession>, SessionError> {
        let reply = self
            .link
            .invoke::<redis::Value>(&INSPECT, keys, |_| {})
            .await?;
        decode(key, RawRecord::from_reply(reply)?)
    }
}

/// The session from its raw fields, or why it cannot be read, naming the session.
fn decode(
    key: &SessionKey,
    raw: Result<RawRecord, String>,
) -> Result<Option<StoredSession>, SessionError> {
    raw.and_then(StoredSession::decode)
        .map_err(|reason| SessionError::Unreadable {
            session: key.id.to_string(),
            reason,
        })
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn checkout(&self, key: &SessionKey) -> Result<SessionTurn, SessionError> {
        let sessions = self.link.sessions;
        let deadline = Instant::now() + sessions.max_wait;
        let busy = || SessionError::Busy {
            session: key.id.to_string(),
            waited_secs: sessions.max_wait.as_secs(),
            retry_after_secs: self.link.options.lease_ttl.as_secs().max(1),
        };
        let place = self
            .queue
            .join(key, sessions.max_waiting)
            .map_err(|waiting| SessionError::QueueFull {
                session: key.id.to_string(),
                waiting,
                retry_after_secs: self.link.options.lease_ttl.as_secs().max(1),
            })?;
        let head = tokio::time::timeout_at(deadline, place.reach_head())
            .await
            .map_err(|_| busy())?;
        let keys = SessionKeys::new(&self.link.options.key_prefix, key);
        let (lease, raw) = match Lease::acquire(&self.link, &keys, deadline).await {
            Ok(taken) => taken,
            Err(LeaseRefusal::StillHeld) => return Err(busy()),
            Err(LeaseRefusal::Failed(error)) => return Err(error),
        };
        let stored = match decode(key, raw) {
            Ok(stored) => stored,
            Err(error) => {
                lease.release().await;
                return Err(error);
            }
        };
        let max_state_bytes = self.link.sessions.max_state_bytes;
        let (created_ms, mut conversation, state) = match stored {
            Some(stored) => (
                Some(stored.created_ms),
                stored.conversation,
                SessionState::from_values(stored.state, max_state_bytes),
            ),
            None => (
                None,
                Conversation::new(),
                SessionState::new(max_state_bytes),
            ),
        };
        let loaded_len = conversation.len();
        let loaded = conversation.checkpoint();
        let claim = RedisClaim {
            conversation,
            state,
            loaded,
            loaded_len,
            link: self.link.clone(),
            session: key.id.to_string(),
            keys,
            created_ms,
            lease,
            _head: head,
            _place: place,
        };
        Ok(SessionTurn::new(key.clone(), Box::new(claim)))
    }

    async fn history(&self, key: &SessionKey) -> Result<Option<Conversation>, SessionError> {
        let keys = SessionKeys::new(&self.link.options.key_prefix, key);
        let stored = self.read(key, &keys).await?;
        Ok(stored.map(|stored| stored.conversation))
    }

    async fn state(&self, key: &SessionKey) -> Result<Option<SessionState>, SessionError> {
        let keys = SessionKeys::new(&self.link.options.key_prefix, key);
        let stored = self.read(key, &keys).await?;
        let max_state_bytes = self.link.sessions.max_state_bytes;
        Ok(stored.map(|stored| SessionState::from_values(stored.state, max_state_bytes)))
    }
}

impl std::fmt::Display for RedisSessionStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = {
            format!(
                "{} (keys under {:?})",
                self.link.address, self.link.options.key_prefix
            )
        };
        formatter.write_str(&text)
    }
}

/// A turn's hold: the history it loaded, the session's lease in Redis and its place at the head
/// of the local line.
struct RedisClaim {
    conversation: Conversation,
    state: SessionState,
    /// Where the history stood when read, so the commit sends only what changed.
    loaded: Checkpoint,
    /// The stored list's length when read; the commit refuses to apply to any other.
    loaded_len: usize,
    link: Arc<Link>,
    session: String,
    keys: SessionKeys,
    created_ms: Option<i64>,
    lease: Lease,
    // Declared after the lease so that it is released first, then the next local turn starts.
    _head: OwnedMutexGuard<()>,
    _place: QueuePlace,
}

#[async_trait]
impl SessionClaim for RedisClaim {
    fn conversation(&self) -> &Conversation {
        &self.conversation
    }

    fn state(&self) -> &SessionState {
        &self.state
    }

    fn parts_mut(&mut self) -> (&mut Conversation, &mut SessionState) {
        (&mut self.conversation, &mut self.state)
    }

    async fn commit(self: Box<Self>) -> Result<(), SessionError> {
        let lease_lost = || SessionError::LeaseLost {
            session: self.session.clone(),
        };
        if self.lease.is_lost() {
            return Err(lease_lost());
        }
        let sessions = self.link.sessions;
        let (trimmed, appended) = self.conversation.changes_since(self.loaded);
        let created_ms = self.created_ms.map(|ms| ms.to_string()).unwrap_or_default();
        let state = if self.state.is_empty() {
            String::new()
        } else {
            self.state.to_json()
        };
        let messages = encode_messages(appended);
        let stored = self
            .link
            .invoke::<i64>(&COMMIT, &self.keys, |commit| {
                commit
                    .arg(self.lease.token())
                    .arg(FORMAT_VERSION)
                    .arg(&created_ms)
                    .arg(sessions.idle_timeout.as_millis() as u64)
                    .arg(sessions.max_lifetime.as_millis() as u64)
                    .arg(self.loaded_len)
                    .arg(trimmed)
                    .arg(&state)
                    .arg(&messages);
            })
            .await?;
        if stored == 2 {
            return Err(SessionError::Unavailable {
                cause: format!(
                    "the stored history of session {} changed while this invocation held it (evicted or edited); nothing was committed",
                    self.session
                ),
            });
        }
        if stored != 1 {
            return Err(lease_lost());
        }
        let RedisClaim { lease, .. } = *self;
        lease.committed();
        Ok(())
    }

    async fn release(self: Box<Self>) {
        let RedisClaim { lease, .. } = *self;
        lease.release().await;
    }
}

impl Link {
    /// Runs `script` on the session's `keys`, with the arguments `arguments` adds, within the
    /// command timeout. An attempt whose connection broke (Redis restarted, a failover, a node
    /// replaced) is made once more on a fresh connection, in the same bound: every script here
    /// is safe to repeat. Any other failure, or a second one, means "unavailable".
    async fn invoke<T: FromRedisValue>(
        &self,
        script: &Script,
        keys: &SessionKeys,
        arguments: impl Fn(&mut ScriptInvocation<'_>),
    ) -> Result<T, SessionError> {
        let limit = self.options.command_timeout;
        let attempts = async {
            let mut attempt = 1;
            loop {
                let mut invocation = script.prepare_invoke();
                invocation.key(&keys.all()[..]);
                arguments(&mut invocation);
                let outcome = match self.connector.connection().await {
                    Ok(mut connection) => invocation.invoke_async::<T>(&mut connection).await,
                    Err(error) => Err(error),
                };
                match outcome {
                    Err(error) if attempt < ATTEMPTS && is_broken_connection(&error) => {
                        tracing::debug!(%error, "a Redis connection broke; sending again");
                        attempt += 1;
                    }
                    outcome => return outcome,
                }
            }
        };
        let timed_out = || SessionError::Unavailable {
            cause: format!(
                "Redis at {} did not answer within {} ms",
                self.address,
                limit.as_millis()
            ),
        };
        match tokio::time::timeout(limit, attempts).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) if error.is_timeout() => Err(timed_out()),
            Ok(Err(error)) => Err(SessionError::Unavailable {
                cause: format!("Redis at {}: {error}", self.address),
            }),
            Err(_) => Err(timed_out()),
        }
    }
}

/// Attempts at one operation: the first, and one more when its connection broke.
const ATTEMPTS: u32 = 2;

/// Whether `error` says the connection broke, rather than Redis answering with an error.
fn is_broken_connection(error: &redis::RedisError) -> bool {
    !error.is_timeout() && (error.is_connection_dropped() || error.is_io_error())
}
