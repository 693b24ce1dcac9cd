//! A session as Redis holds it: a hash of `format`, `created_ms` and `history`.
//!
//! The history is the message list in Bedrock Converse's wire form — the form recordings and
//! replay already use — so an operator can read it with `HGET` and a later format can be told
//! apart by its version. A value this server cannot read is reported, never treated as empty:
//! replacing it would silently lose a conversation.

use crate::conversation::Conversation;
use crate::message::Message;

/// The format this server writes and reads.
pub(super) const FORMAT_VERSION: &str = "1";

/// The hash fields, in the order [`RawRecord`] holds them.
pub(super) const FIELDS: [&str; 3] = ["format", "created_ms", "history"];

/// The fields of [`FIELDS`] as Redis returned them, each absent when missing.
pub(super) type RawRecord = (Option<String>, Option<String>, Option<Vec<u8>>);

/// A live session read back from Redis.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StoredSession {
    /// When the session's first turn committed, in Redis server time (ms since the epoch).
    pub created_ms: i64,
    pub conversation: Conversation,
}

impl StoredSession {
    /// Reads the fields of [`FIELDS`]; `Ok(None)` when the session does not exist.
    pub fn decode(raw: RawRecord) -> Result<Option<Self>, String> {
        let (format, created_ms, history) = match raw {
            (None, None, None) => return Ok(None),
            (Some(format), Some(created_ms), Some(history)) => (format, created_ms, history),
            _ => return Err("the record is incomplete".to_owned()),
        };
        if format != FORMAT_VERSION {
            return Err(format!(
                "format version {format:?} is unknown to this server, which reads {FORMAT_VERSION:?}"
            ));
        }
        let created_ms = created_ms
            .parse()
            .map_err(|_| format!("created_ms {created_ms:?} is not a number"))?;
        let messages: Vec<Message> = serde_json::from_slice(&history)
            .map_err(|error| format!("the history is not a Converse message list: {error}"))?;
        Ok(Some(Self {
            created_ms,
            conversation: Conversation::from(messages),
        }))
    }
}

/// The `history` field for `conversation`.
pub(super) fn encode_history(conversation: &Conversation) -> Vec<u8> {
    // Messages are plain data (strings, JSON values); serialising them cannot fail.
    serde_json::to_vec(conversation.messages()).unwrap_or_else(|_| b"[]".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    #[test]
    fn round_trips_a_history_in_wire_form() {
        let conversation = Conversation::from(vec![Message::user("2+5?"), Message::assistant("7")]);
        let history = encode_history(&conversation);
        assert_eq!(
            String::from_utf8(history.clone()).unwrap(),
            r#"[{"role":"user","content":[{"text":"2+5?"}]},{"role":"assistant","content":[{"text":"7"}]}]"#
        );
        let stored = StoredSession::decode((some("1"), some("1700000000000"), Some(history)))
            .unwrap()
            .unwrap();
        assert_eq!(stored.conversation, conversation);
        assert_eq!(stored.created_ms, 1_700_000_000_000);
    }

    #[test]
    fn absent_is_none_and_anything_unreadable_is_an_error() {
        assert_eq!(StoredSession::decode((None, None, None)), Ok(None));
        let cases = [
            (
                some("2"),
                some("1"),
                Some(b"[]".to_vec()),
                "format version \"2\"",
            ),
            (some("1"), some("soon"), Some(b"[]".to_vec()), "created_ms"),
            (
                some("1"),
                some("1"),
                Some(b"{not json".to_vec()),
                "not a Converse",
            ),
            (some("1"), None, Some(b"[]".to_vec()), "incomplete"),
        ];
        for (format, created, history, expected) in cases {
            let error = StoredSession::decode((format, created, history)).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
