//! The application state a session keeps beside its conversation — a shopping cart, a counter,
//! the user's chosen language, a handle to a job a tool started — as Strands' `agent.state` keeps
//! it: one JSON object, read and written by tools and entrypoints during a turn, and stored with
//! the history when the turn commits, atomically, or not at all.
//!
//! It is capped (64 KiB of JSON by default, [`SessionConfig::max_state_bytes`]) so a runaway tool
//! cannot grow a session without bound: a write that would pass the cap fails, naming it, and
//! changes nothing.
//!
//! [`SessionConfig::max_state_bytes`]: crate::session::SessionConfig::max_state_bytes

use serde::Serialize;
use serde_json::{Map, Value};
use thiserror::Error;

/// Default cap on a session's state, in bytes of its JSON text.
pub const DEFAULT_MAX_STATE_BYTES: usize = 64 * 1024;

/// A session's state: a JSON object of named values, held to a size cap.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionState {
    values: Map<String, Value>,
    max_bytes: usize,
}

impl Default for SessionState {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_STATE_BYTES)
    }
}

/// Why a write to the state was refused; the state is as it was.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// The state would pass its cap.
    #[error("the session state would take {size} bytes, over its cap of {cap} bytes")]
    TooLarge {
        /// The JSON size the write would give the state.
        size: usize,
        /// The cap.
        cap: usize,
    },
    /// The value is not representable as JSON.
    #[error("the value cannot be kept in the session state: {0}")]
    NotJson(String),
}

impl SessionState {
    /// An empty state capped at `max_bytes` of JSON.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            values: Map::new(),
            max_bytes,
        }
    }

    /// A state as a store read it back. It is not held to the cap here, so a state stored under a
    /// larger cap stays readable; the next write that does not bring it under the cap fails.
    pub fn from_values(values: Map<String, Value>, max_bytes: usize) -> Self {
        Self { values, max_bytes }
    }

    /// The value named `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Sets `key` to `value`; fails, changing nothing, if the state would pass its cap.
    pub fn set(&mut self, key: impl Into<String>, value: impl Serialize) -> Result<(), StateError> {
        let value =
            serde_json::to_value(value).map_err(|error| StateError::NotJson(error.to_string()))?;
        let key = key.into();
        let previous = self.values.insert(key.clone(), value);
        let size = self.encoded_len();
        if size > self.max_bytes {
            match previous {
                Some(previous) => self.values.insert(key, previous),
                None => self.values.remove(&key),
            };
            return Err(StateError::TooLarge {
                size,
                cap: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.values.remove(key)
    }

    /// Puts `key` back to what it held before a write, whatever the cap: going back never grows
    /// the state past what it was.
    pub(crate) fn put_back(&mut self, key: String, value: Option<Value>) {
        match value {
            Some(value) => self.values.insert(key, value),
            None => self.values.remove(&key),
        };
    }

    /// Every value, by name.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The cap, in bytes of JSON.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The state as JSON text, as stores keep it.
    pub fn to_json(&self) -> String {
        // A map of JSON values always serialises.
        serde_json::to_string(&self.values).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The length of [`SessionState::to_json`].
    pub fn encoded_len(&self) -> usize {
        self.to_json().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_write_past_the_cap_fails_naming_it_and_changes_nothing() {
        let mut state = SessionState::new(32);
        state.set("visits", 1).unwrap();
        let before = state.clone();
        let error = state.set("notes", "x".repeat(40)).unwrap_err();
        assert_eq!(
            error,
            StateError::TooLarge {
                size: r#"{"notes":""#.len() + 40 + r#"","visits":1}"#.len(),
                cap: 32
            }
        );
        assert!(error.to_string().contains("cap of 32 bytes"), "{error}");
        assert_eq!(state, before);
        let error = state.set("visits", "y".repeat(40)).unwrap_err();
        assert!(matches!(error, StateError::TooLarge { .. }));
        assert_eq!(state.get("visits"), Some(&json!(1)));
    }

    #[test]
    fn values_round_trip_as_one_json_object() {
        let mut state = SessionState::default();
        state.set("cart", json!(["apple"])).unwrap();
        state.set("language", "ja").unwrap();
        assert_eq!(state.to_json(), r#"{"cart":["apple"],"language":"ja"}"#);
        assert_eq!(state.remove("language"), Some(json!("ja")));
        assert_eq!(state.encoded_len(), state.to_json().len());
    }
}
