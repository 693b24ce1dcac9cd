//! What names a session: the runtime session id the client sends, and the owner it belongs to.
//!
//! A session id alone is not a secret — it travels in a header, appears in logs and can be
//! guessed — so the store keys every session by its owner as well. The same id under another
//! owner is another, fresh session, and nothing of the first one is visible from it.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

/// Longest accepted session id, in characters.
pub const MAX_SESSION_ID_CHARS: usize = 256;

/// A validated runtime session id: 1 to 256 characters, none of them control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Arc<str>);

/// Why a session id was refused.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidSessionId {
    #[error("session id is empty")]
    /// No character at all.
    Empty,
    #[error("session id is {0} characters long; at most {MAX_SESSION_ID_CHARS} are allowed")]
    /// More characters than allowed (this many).
    TooLong(usize),
    #[error("session id contains a control character")]
    /// A control character.
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

/// Whom a session belongs to: a user the entrypoint identified, or nobody in particular.
///
/// `Anonymous` is its own variant rather than a reserved user name, so no user id — not even
/// the text "anonymous" — can reach the sessions of requests that named no user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SessionOwner {
    /// Nobody in particular: the runtime named no user.
    Anonymous,
    /// A user, by id.
    User(Arc<str>),
}

impl SessionOwner {
    /// The owner for a user id.
    pub fn user(id: &str) -> Self {
        Self::User(id.into())
    }
}

impl fmt::Display for SessionOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("(anonymous)"),
            Self::User(id) => write!(f, "user {id}"),
        }
    }
}

/// The full name of a session in a store: its owner and its runtime session id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    /// Whose session it is.
    pub owner: SessionOwner,
    /// The runtime session id.
    pub id: SessionId,
}

impl SessionKey {
    /// The session `id` of `owner`.
    pub fn new(owner: SessionOwner, id: SessionId) -> Self {
        Self { owner, id }
    }

    /// The session `id` of nobody in particular.
    pub fn anonymous(id: SessionId) -> Self {
        Self::new(SessionOwner::Anonymous, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_same_id_under_two_owners_is_two_keys() {
        let id = SessionId::parse("s").unwrap();
        let one = SessionKey::new(SessionOwner::user("1"), id.clone());
        let two = SessionKey::new(SessionOwner::user("2"), id.clone());
        let named_anonymous = SessionKey::new(SessionOwner::user("anonymous"), id.clone());
        assert_ne!(one, two);
        assert_ne!(SessionKey::anonymous(id), named_anonymous);
    }
}
