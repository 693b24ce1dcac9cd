//! Redis key names for a session, safe for any session id and owner.
//!
//! Session ids are arbitrary text (up to 256 characters) chosen by clients, and owners come from
//! payloads or headers, so both are percent-encoded: only ASCII letters, digits and `-_.~` pass
//! through. No id can then forge a separator (`:`), a glob character (`*`, `?`, `[`), white space,
//! or a Redis Cluster hash tag (`{`, `}`); the encoding is one-to-one, so two sessions never share
//! a key. The keys of a session carry the same hash tag, so a script touching them stays on one
//! Cluster slot.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::session::{SessionKey, SessionOwner};

/// Everything but ASCII letters, digits and the unreserved marks `-_.~`.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The three keys of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SessionKeys {
    /// A hash: `format`, `created_ms` and `state`.
    pub session: String,
    /// A list: the messages, oldest first, each in Bedrock Converse's wire form.
    pub history: String,
    /// The token of the replica whose invocation holds the session, with a short TTL.
    pub lease: String,
}

impl SessionKeys {
    /// The keys of `key` under `prefix`.
    pub(super) fn new(prefix: &str, key: &SessionKey) -> Self {
        let owner = match &key.owner {
            SessionOwner::Anonymous => "anon".to_owned(),
            SessionOwner::User(id) => format!("user={}", utf8_percent_encode(id, ESCAPED)),
        };
        let tag = format!(
            "{{{owner}:{}}}",
            utf8_percent_encode(key.id.as_str(), ESCAPED)
        );
        Self {
            session: format!("{prefix}session:{tag}"),
            history: format!("{prefix}history:{tag}"),
            lease: format!("{prefix}lease:{tag}"),
        }
    }

    /// The keys in the order every script takes them.
    pub(super) fn all(&self) -> [&str; 3] {
        [&self.session, &self.history, &self.lease]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionId;

    fn keys(owner: SessionOwner, id: &str) -> SessionKeys {
        SessionKeys::new(
            "agentcore:",
            &SessionKey::new(owner, SessionId::parse(id).unwrap()),
        )
    }

    #[test]
    fn readable_ids_stay_readable() {
        let keys = keys(
            SessionOwner::user("1"),
            "41576c58-9880-4114-aa04-f718482054f8",
        );
        assert_eq!(
            keys.session,
            "agentcore:session:{user=1:41576c58-9880-4114-aa04-f718482054f8}"
        );
        assert_eq!(
            keys.history,
            "agentcore:history:{user=1:41576c58-9880-4114-aa04-f718482054f8}"
        );
        assert_eq!(
            keys.lease,
            "agentcore:lease:{user=1:41576c58-9880-4114-aa04-f718482054f8}"
        );
    }

    #[test]
    fn no_id_can_inject_separators_globs_tags_or_spaces() {
        let keys = keys(SessionOwner::user("a:b}{*"), "x:y *?[] {z} é\u{3000}%");
        let tag = keys
            .session
            .strip_prefix("agentcore:session:{")
            .and_then(|rest| rest.strip_suffix('}'))
            .unwrap();
        assert_eq!(
            tag,
            "user=a%3Ab%7D%7B%2A:x%3Ay%20%2A%3F%5B%5D%20%7Bz%7D%20%C3%A9%E3%80%80%25"
        );
        assert_eq!(tag.matches(':').count(), 1, "one separator, the real one");
        for forbidden in ['*', '?', '[', ']', '{', '}', ' ', '\u{3000}'] {
            assert!(!tag.contains(forbidden), "{forbidden:?} in {tag}");
        }
    }

    #[test]
    fn owners_and_ids_never_collide() {
        let id = "s";
        let anonymous = keys(SessionOwner::Anonymous, id);
        let named_anon = keys(SessionOwner::user("anon"), id);
        let tricky = keys(SessionOwner::user("1:s"), "t");
        let plain = keys(SessionOwner::user("1"), "s:t");
        assert_ne!(anonymous, named_anon);
        assert_ne!(tricky, plain);
    }
}
