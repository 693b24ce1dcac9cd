//! `/ping` health: `Healthy`, or `HealthyBusy` while invocations or tracked tasks run.
//!
//! AgentCore does not reclaim a runtime that reports `HealthyBusy`, so long background work
//! should hold a [`BusyGuard`] for as long as it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Shared busy counter; cheap to clone.
#[derive(Clone, Debug)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    busy: AtomicUsize,
    last_update: AtomicU64,
}

/// The `/ping` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PingStatus {
    pub status: Status,
    /// Unix seconds of the last change of `status`.
    pub time_of_last_update: u64,
}

/// Health as AgentCore reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    Healthy,
    HealthyBusy,
}

/// Marks the runtime busy until dropped.
#[derive(Debug)]
pub struct BusyGuard {
    health: Health,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                busy: AtomicUsize::new(0),
                last_update: AtomicU64::new(unix_now()),
            }),
        }
    }
}

impl Health {
    /// Marks one unit of work as running; `HealthyBusy` until every guard is dropped.
    pub fn track(&self) -> BusyGuard {
        if self.inner.busy.fetch_add(1, Ordering::SeqCst) == 0 {
            self.inner.last_update.store(unix_now(), Ordering::SeqCst);
        }
        BusyGuard {
            health: self.clone(),
        }
    }

    /// The current status.
    pub fn ping(&self) -> PingStatus {
        let status = if self.inner.busy.load(Ordering::SeqCst) > 0 {
            Status::HealthyBusy
        } else {
            Status::Healthy
        };
        PingStatus {
            status,
            time_of_last_update: self.inner.last_update.load(Ordering::SeqCst),
        }
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if self.health.inner.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.health
                .inner
                .last_update
                .store(unix_now(), Ordering::SeqCst);
        }
    }
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
