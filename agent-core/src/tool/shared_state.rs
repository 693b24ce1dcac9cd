//! The session state as one turn's tool calls share it: behind a lock, each write a closure run
//! alone (so parallel calls never lose a write), each change journaled per call with a version,
//! so that the writes of a call that panics can be undone where no later write built on them.

use crate::sync::lock;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::session::SessionState;

/// The turn's state, shared by its tool calls.
#[derive(Clone)]
pub(crate) struct SharedState(Arc<Mutex<Journaled>>);

struct Journaled {
    state: SessionState,
    /// The version of each key's last write in this turn.
    versions: HashMap<String, u64>,
    next_version: u64,
}

/// One call's writes: for each key it changed, the value before and the version it wrote.
#[derive(Clone, Default)]
pub(crate) struct Writes(Arc<Mutex<Vec<Undo>>>);

struct Undo {
    key: String,
    before: Option<Value>,
    version: u64,
}

impl SharedState {
    pub(crate) fn new(state: SessionState) -> Self {
        Self(Arc::new(Mutex::new(Journaled {
            state,
            versions: HashMap::new(),
            next_version: 1,
        })))
    }

    /// The state as the turn's calls left it.
    pub(crate) fn snapshot(&self) -> SessionState {
        lock(&self.0).state.clone()
    }

    pub(crate) fn read<R>(&self, read: impl FnOnce(&SessionState) -> R) -> R {
        read(&lock(&self.0).state)
    }

    pub(crate) fn update<R>(
        &self,
        writes: &Writes,
        write: impl FnOnce(&mut SessionState) -> R,
    ) -> R {
        let mut journaled = lock(&self.0);
        let before = journaled.state.clone();
        match std::panic::catch_unwind(AssertUnwindSafe(|| write(&mut journaled.state))) {
            Ok(result) => {
                journaled.record(&before, writes);
                result
            }
            Err(panic) => {
                journaled.state = before;
                drop(journaled);
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Undoes `writes`, newest first, where the key still holds what they wrote.
    pub(crate) fn undo(&self, writes: &Writes) {
        let mut journaled = lock(&self.0);
        let undos = std::mem::take(&mut *lock(&writes.0));
        for undo in undos.into_iter().rev() {
            if journaled.versions.get(&undo.key) != Some(&undo.version) {
                continue;
            }
            journaled.versions.remove(&undo.key);
            journaled.state.put_back(undo.key, undo.before);
        }
    }
}

impl Journaled {
    /// Journals every key whose value a write changed.
    fn record(&mut self, before: &SessionState, writes: &Writes) {
        let changed: Vec<String> = before
            .values()
            .keys()
            .chain(self.state.values().keys())
            .filter(|key| before.get(key) != self.state.get(key))
            .cloned()
            .collect();
        let mut undos = lock(&writes.0);
        for key in changed {
            // The call's first write to a key holds the value to go back to.
            match undos.iter_mut().find(|undo| undo.key == key) {
                Some(undo) => undo.version = self.next_version,
                None => undos.push(Undo {
                    key: key.clone(),
                    before: before.get(&key).cloned(),
                    version: self.next_version,
                }),
            }
            self.versions.insert(key, self.next_version);
            self.next_version += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_panicking_write_changes_nothing() {
        let shared = SharedState::new(SessionState::default());
        let writes = Writes::default();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            shared.update(&writes, |state| {
                state.set("half", 1).unwrap();
                panic!("mid-write");
            })
        }));
        assert!(outcome.is_err());
        assert!(shared.snapshot().is_empty());
    }

    #[test]
    fn undo_restores_a_calls_writes_unless_another_call_wrote_after_them() {
        let mut start = SessionState::default();
        start.set("kept", "before").unwrap();
        let shared = SharedState::new(start);
        let (failing, other) = (Writes::default(), Writes::default());
        shared.update(&failing, |state| state.set("kept", "failing").unwrap());
        shared.update(&failing, |state| state.set("fresh", 1).unwrap());
        shared.update(&failing, |state| state.set("contended", "failing").unwrap());
        shared.update(&other, |state| state.set("contended", "other").unwrap());
        shared.undo(&failing);
        let state = shared.snapshot();
        assert_eq!(state.get("kept"), Some(&json!("before")));
        assert_eq!(state.get("fresh"), None);
        assert_eq!(state.get("contended"), Some(&json!("other")));
    }
}
