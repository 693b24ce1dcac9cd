//! The line of one process's invocations waiting for the same session.
//!
//! Only the head of a line competes for the session's Redis lease; the others wait on a fair
//! in-process mutex, so they are served in arrival order and a busy session costs Redis one
//! polling client per replica rather than one per waiting request.

use crate::sync::lock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::session::SessionKey;

/// The lines of every session with invocations in this process.
#[derive(Default)]
pub(super) struct LocalQueue {
    lines: Mutex<HashMap<SessionKey, Line>>,
}

struct Line {
    head: Arc<tokio::sync::Mutex<()>>,
    members: usize,
}

/// A place in a session's line; leaving it (dropping) removes the line once it is empty.
pub(super) struct QueuePlace {
    queue: Arc<LocalQueue>,
    key: SessionKey,
    head: Arc<tokio::sync::Mutex<()>>,
}

impl LocalQueue {
    /// Joins the line of `key`, unless `max_waiting` already wait in it behind its head: then
    /// `Err` with how many wait.
    pub(super) fn join(
        self: &Arc<Self>,
        key: &SessionKey,
        max_waiting: usize,
    ) -> Result<QueuePlace, usize> {
        let mut lines = self.lock();
        let line = lines.entry(key.clone()).or_insert_with(|| Line {
            head: Arc::default(),
            members: 0,
        });
        let waiting = line.members.saturating_sub(1);
        if waiting >= max_waiting {
            return Err(waiting);
        }
        line.members += 1;
        Ok(QueuePlace {
            queue: self.clone(),
            key: key.clone(),
            head: line.head.clone(),
        })
    }

    /// Members of the line of `key` behind its head.
    pub(super) fn waiting(&self, key: &SessionKey) -> usize {
        self.lock()
            .get(key)
            .map_or(0, |line| line.members.saturating_sub(1))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, Line>> {
        lock(&self.lines)
    }
}

impl QueuePlace {
    /// Waits until every earlier member of the line has left; the guard keeps the head.
    pub(super) async fn reach_head(&self) -> OwnedMutexGuard<()> {
        self.head.clone().lock_owned().await
    }
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        let mut lines = self.queue.lock();
        if let Some(line) = lines.get_mut(&self.key) {
            line.members -= 1;
            if line.members == 0 {
                lines.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionId;

    #[tokio::test]
    async fn lines_are_kept_only_while_someone_is_in_them() {
        let queue = Arc::new(LocalQueue::default());
        let key = SessionKey::anonymous(SessionId::parse("s").unwrap());
        let first = queue.join(&key, 1).unwrap();
        let second = queue.join(&key, 1).unwrap();
        assert_eq!(queue.join(&key, 1).err(), Some(1), "one waits already");
        let head = first.reach_head().await;
        assert!(second.head.try_lock().is_err(), "the second waits");
        drop(head);
        drop(first);
        let _head = second.reach_head().await;
        assert_eq!(queue.lock().len(), 1);
        drop(_head);
        drop(second);
        assert!(queue.lock().is_empty());
    }
}
