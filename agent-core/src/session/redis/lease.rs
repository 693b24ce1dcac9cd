//! A replica's exclusive hold on one session across every replica: a Redis key holding a random
//! token, set only if absent and with a short TTL, renewed while the invocation runs.
//!
//! A replica that dies mid-invocation stops renewing, so its lease expires within one TTL and
//! the session is usable elsewhere with the history as it was before. The token doubles as the
//! fencing token the commit script checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Link;
use super::keys::SessionKeys;
use super::record::RawRecord;
use super::scripts::{ACQUIRE, RELEASE, RENEW};
use crate::session::SessionError;

/// First pause before asking again for a lease another replica holds; it doubles up to
/// [`MAX_POLL`]. Bounded backoff keeps a waiting replica to a few commands a second.
const FIRST_POLL: Duration = Duration::from_millis(5);
const MAX_POLL: Duration = Duration::from_millis(200);

/// A held lease; dropping it without [`Lease::committed`] releases it in the background.
pub(super) struct Lease {
    link: Arc<Link>,
    keys: SessionKeys,
    token: String,
    lost: Arc<AtomicBool>,
    renewal: JoinHandle<()>,
    held: bool,
}

/// Why a lease was not had.
pub(super) enum LeaseRefusal {
    /// Another replica still held it at the deadline.
    StillHeld,
    Failed(SessionError),
}

impl Lease {
    /// Takes the lease of `keys`, asking again with bounded backoff until `deadline`, and
    /// reads the session in the same round trip: its fields, or why they cannot be read.
    pub(super) async fn acquire(
        link: &Arc<Link>,
        keys: &SessionKeys,
        deadline: Instant,
    ) -> Result<(Self, Result<RawRecord, String>), LeaseRefusal> {
        let token = uuid::Uuid::new_v4().to_string();
        let ttl_ms = link.options.lease_ttl.as_millis() as u64;
        let mut pause = FIRST_POLL;
        let record = loop {
            let reply = link
                .invoke::<redis::Value>(&ACQUIRE, keys, |acquire| {
                    acquire.arg(&token).arg(ttl_ms);
                })
                .await
                .map_err(LeaseRefusal::Failed)?;
            if let Some(record) = taken(reply).map_err(LeaseRefusal::Failed)? {
                break record;
            }
            let jittered = pause.mul_f64(0.5 + fastrand::f64() / 2.0);
            if Instant::now() + jittered >= deadline {
                return Err(LeaseRefusal::StillHeld);
            }
            tokio::time::sleep(jittered).await;
            pause = (pause * 2).min(MAX_POLL);
        };
        let lost = Arc::new(AtomicBool::new(false));
        let renewal = tokio::spawn(renew_until_dropped(
            link.clone(),
            keys.clone(),
            token.clone(),
            lost.clone(),
        ));
        let lease = Self {
            link: link.clone(),
            keys: keys.clone(),
            token,
            lost,
            renewal,
            held: true,
        };
        Ok((lease, record))
    }

    /// The fencing token the commit script checks.
    pub(super) fn token(&self) -> &str {
        &self.token
    }

    /// True once a renewal found the lease gone or taken.
    pub(super) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Records that a commit released the lease, so dropping it sends nothing.
    pub(super) fn committed(mut self) {
        self.held = false;
    }

    /// Gives the lease back now, so the session's next turn need not wait for it.
    pub(super) async fn release(mut self) {
        self.held = false;
        self.renewal.abort();
        release(
            self.link.clone(),
            self.keys.clone(),
            std::mem::take(&mut self.token),
        )
        .await;
    }
}

impl Drop for Lease {
    /// A lease dropped while held (its turn was cancelled) is released in the background.
    fn drop(&mut self) {
        self.renewal.abort();
        if !self.held {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // No runtime left to send it: the lease expires after its TTL.
        };
        let token = std::mem::take(&mut self.token);
        runtime.spawn(release(self.link.clone(), self.keys.clone(), token));
    }
}

/// Runs the release script. Best effort: if it fails, the lease expires after its TTL.
async fn release(link: Arc<Link>, keys: SessionKeys, token: String) {
    let sessions = link.sessions;
    let released = link
        .invoke::<i64>(&RELEASE, &keys, |release| {
            release
                .arg(&token)
                .arg(sessions.idle_timeout.as_millis() as u64)
                .arg(sessions.max_lifetime.as_millis() as u64);
        })
        .await;
    if let Err(error) = released {
        tracing::warn!(%error, "a session lease could not be released; it expires by itself");
    }
}

/// Reads the acquire script's reply: `None` when another holds the lease, else the session's
/// fields or why they cannot be read.
fn taken(reply: redis::Value) -> Result<Option<Result<RawRecord, String>>, SessionError> {
    match reply {
        redis::Value::Int(0) => Ok(None),
        other => RawRecord::from_reply(other).map(Some),
    }
}

/// Renews the lease every third of its TTL until aborted, or until it is found lost.
async fn renew_until_dropped(
    link: Arc<Link>,
    keys: SessionKeys,
    token: String,
    lost: Arc<AtomicBool>,
) {
    let ttl = link.options.lease_ttl;
    loop {
        tokio::time::sleep(ttl / 3).await;
        let renewed = link
            .invoke::<i64>(&RENEW, &keys, |renew| {
                renew.arg(&token).arg(ttl.as_millis() as u64);
            })
            .await;
        match renewed {
            Ok(1) => {}
            Ok(_) => {
                lost.store(true, Ordering::Relaxed);
                tracing::warn!("a session lease was lost while its invocation ran");
                return;
            }
            Err(error) => tracing::warn!(%error, "a session lease could not be renewed; retrying"),
        }
    }
}
