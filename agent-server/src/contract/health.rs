//! `/ping` health: `Healthy`, or `HealthyBusy` while invocations or tracked tasks run — unless
//! the app says otherwise.
//!
//! AgentCore does not reclaim a runtime that reports `HealthyBusy`, so long background work
//! should hold a [`BusyGuard`] for as long as it runs. As in the reference, the status reported
//! is the forced one if any ([`Health::force`]), else the app's own ping handler's
//! ([`Health::set_ping_handler`]), else the automatic one; `time_of_last_update` moves only when
//! the reported status changes, since a timestamp that moved on every ping would keep an idle
//! session alive.

use agent_core::sync::{lock, read, write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// An app's own view of its health: a status, or `None` to leave it to the busy tracking.
pub type PingHandler = dyn Fn() -> Option<Status> + Send + Sync;

/// Shared health state; cheap to clone.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    busy: AtomicUsize,
    /// The forced status: 0 for none, else [`Status::code`].
    forced: AtomicU8,
    handler: RwLock<Option<Arc<PingHandler>>>,
    /// The status last reported and since when (unix seconds).
    reported: Mutex<(Status, u64)>,
}

/// The `/ping` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PingStatus {
    /// The status.
    pub status: Status,
    /// Unix seconds of the last change of `status`.
    pub time_of_last_update: u64,
}

/// Health as AgentCore reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Idle: a new session may be placed here.
    Healthy,
    /// Working: an invocation or tracked task runs.
    HealthyBusy,
}

impl Status {
    fn code(self) -> u8 {
        match self {
            Self::Healthy => 1,
            Self::HealthyBusy => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Healthy),
            2 => Some(Self::HealthyBusy),
            _ => None,
        }
    }
}

/// Marks the runtime busy until dropped.
pub struct BusyGuard {
    health: Health,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                busy: AtomicUsize::new(0),
                forced: AtomicU8::new(0),
                handler: RwLock::new(None),
                reported: Mutex::new((Status::Healthy, unix_now())),
            }),
        }
    }
}

impl Health {
    /// Marks one unit of work as running; `HealthyBusy` until every guard is dropped.
    pub fn track(&self) -> BusyGuard {
        if self.inner.busy.fetch_add(1, Ordering::SeqCst) == 0 {
            self.observe_tracking();
        }
        BusyGuard {
            health: self.clone(),
        }
    }

    /// Reports `status` whatever else is going on, until [`Health::clear_forced`] (the
    /// reference's `force_ping_status`).
    pub fn force(&self, status: Status) {
        self.inner.forced.store(status.code(), Ordering::SeqCst);
        self.observe();
    }

    /// Back to the ping handler or the busy tracking.
    pub fn clear_forced(&self) {
        self.inner.forced.store(0, Ordering::SeqCst);
        self.observe();
    }

    /// Asks `handler` for the status on every ping (the reference's `@app.ping`); its `None`,
    /// or a panic, leaves the status to the busy tracking.
    pub fn set_ping_handler(&self, handler: impl Fn() -> Option<Status> + Send + Sync + 'static) {
        *write(&self.inner.handler) = Some(Arc::new(handler));
        self.observe();
    }

    /// The current status, and since when it has been reported.
    pub fn ping(&self) -> PingStatus {
        let (status, time_of_last_update) = self.observe();
        PingStatus {
            status,
            time_of_last_update,
        }
    }

    /// Dates a change of the busy tracking when it is what `/ping` reports; with a forced
    /// status or a ping handler, the next ping observes instead, so an invocation never runs
    /// the app's handler.
    fn observe_tracking(&self) {
        let overridden =
            self.inner.forced.load(Ordering::SeqCst) != 0 || read(&self.inner.handler).is_some();
        if !overridden {
            self.observe();
        }
    }

    /// The status in force; a change from the last one reported is dated now.
    fn observe(&self) -> (Status, u64) {
        let status = self.current();
        let mut reported = lock(&self.inner.reported);
        if reported.0 != status {
            *reported = (status, unix_now());
        }
        *reported
    }

    fn current(&self) -> Status {
        if let Some(forced) = Status::from_code(self.inner.forced.load(Ordering::SeqCst)) {
            return forced;
        }
        let handler = read(&self.inner.handler).clone();
        if let Some(handler) = handler {
            match catch_unwind(AssertUnwindSafe(|| handler())) {
                Ok(Some(status)) => return status,
                Ok(None) => {}
                Err(_) => tracing::warn!("the ping handler panicked; reporting the busy tracking"),
            }
        }
        if self.inner.busy.load(Ordering::SeqCst) > 0 {
            Status::HealthyBusy
        } else {
            Status::Healthy
        }
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if self.health.inner.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.health.observe_tracking();
        }
    }
}

/// `GET /ping`: the status and when it last changed.
pub(crate) async fn ping(
    axum::extract::State(health): axum::extract::State<Health>,
) -> axum::Json<PingStatus> {
    axum::Json(health.ping())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn busy_while_any_guard_lives() {
        let health = Health::default();
        assert_eq!(health.ping().status, Status::Healthy);
        let first = health.track();
        let second = health.track();
        assert_eq!(health.ping().status, Status::HealthyBusy);
        drop(first);
        assert_eq!(health.ping().status, Status::HealthyBusy);
        drop(second);
        assert_eq!(health.ping().status, Status::Healthy);
        assert!(health.ping().time_of_last_update > 1_700_000_000);
    }

    #[test]
    fn forced_over_handler_over_tracking() {
        let health = Health::default();
        let _busy = health.track();
        let idle_says = Arc::new(AtomicBool::new(true));
        let says = idle_says.clone();
        health.set_ping_handler(move || says.load(Ordering::SeqCst).then_some(Status::Healthy));
        assert_eq!(health.ping().status, Status::Healthy, "the handler's word");
        idle_says.store(false, Ordering::SeqCst);
        assert_eq!(
            health.ping().status,
            Status::HealthyBusy,
            "its None: tracking"
        );
        health.force(Status::Healthy);
        assert_eq!(health.ping().status, Status::Healthy, "forced");
        health.clear_forced();
        assert_eq!(health.ping().status, Status::HealthyBusy);
    }

    #[test]
    fn only_a_ping_asks_the_handler() {
        let health = Health::default();
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        health.set_ping_handler(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            None
        });
        let before = asked.load(Ordering::SeqCst);
        drop(health.track());
        assert_eq!(
            asked.load(Ordering::SeqCst),
            before,
            "invocations do not run it"
        );
        health.ping();
        assert_eq!(asked.load(Ordering::SeqCst), before + 1);
    }

    #[test]
    fn a_panicking_handler_leaves_the_status_to_tracking() {
        let health = Health::default();
        health.set_ping_handler(|| panic!("broken handler"));
        assert_eq!(health.ping().status, Status::Healthy);
    }

    #[test]
    fn the_time_moves_only_when_the_status_changes() {
        let health = Health::default();
        *health.inner.reported.lock().unwrap() = (Status::Healthy, 5);
        assert_eq!(health.ping().time_of_last_update, 5, "unchanged");
        health.force(Status::HealthyBusy);
        let changed = health.ping().time_of_last_update;
        assert!(changed > 1_700_000_000);
        *health.inner.reported.lock().unwrap() = (Status::HealthyBusy, 7);
        health.force(Status::HealthyBusy);
        assert_eq!(
            health.ping().time_of_last_update,
            7,
            "forced again to the same"
        );
    }

    #[test]
    fn serialises_like_the_reference() {
        let ping = PingStatus {
            status: Status::HealthyBusy,
            time_of_last_update: 5,
        };
        assert_eq!(
            serde_json::to_string(&ping).unwrap(),
            r#"{"status":"HealthyBusy","time_of_last_update":5}"#
        );
    }
}
