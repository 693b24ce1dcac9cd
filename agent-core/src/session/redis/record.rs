//! A session as Redis holds it: a hash of `format`, `created_ms` and `state` (the session state
//! as one JSON object, absent when empty), and a list of messages.
//!
//! Each message is one list element in Bedrock Converse's wire form — the form recordings and
//! replay already use — so an operator can read a history with `LRANGE`, and a turn is stored by
//! appending its messages (and trimming what the window dropped) rather than by rewriting the
//! whole history. A value this server cannot read is reported, never treated as empty: replacing
//! it would silently lose a conversation.

use crate::conversation::Conversation;
use crate::message::Message;
use crate::session::SessionError;

/// The format this server writes: 2 added the session state.
pub(super) const FORMAT_VERSION: &str = "2";
/// The formats this server reads: 1 is a session stored before the state existed, read with an
/// empty state.
const READABLE_FORMATS: [&str; 2] = ["1", "2"];

/// A session's fields as Redis returned them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct RawRecord {
    pub format: Option<String>,
    pub created_ms: Option<String>,
    pub state: Option<String>,
    /// The list's elements, oldest first; empty when the list does not exist.
    pub messages: Vec<Vec<u8>>,
}

/// A live session read back from Redis.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StoredSession {
    /// When the session's first turn committed, in Redis server time (ms since the epoch).
    pub created_ms: i64,
    pub conversation: Conversation,
    /// The state's values; empty for a format 1 session.
    pub state: serde_json::Map<String, serde_json::Value>,
}

impl StoredSession {
    /// Reads a record; `Ok(None)` when the session does not exist.
    pub(super) fn decode(raw: RawRecord) -> Result<Option<Self>, String> {
        let (format, created_ms) = match (raw.format, raw.created_ms) {
            (None, None) if raw.messages.is_empty() => return Ok(None),
            (Some(format), Some(created_ms)) => (format, created_ms),
            _ => return Err("the record is incomplete".to_owned()),
        };
        if !READABLE_FORMATS.contains(&format.as_str()) {
            return Err(format!(
                "format version {format:?} is unknown to this server, which reads {READABLE_FORMATS:?}"
            ));
        }
        let state = match raw.state {
            None => serde_json::Map::new(),
            Some(text) => serde_json::from_str(&text)
                .map_err(|error| format!("the state is not a JSON object: {error}"))?,
        };
        let created_ms = created_ms
            .parse()
            .map_err(|_| format!("created_ms {created_ms:?} is not a number"))?;
        let messages = raw
            .messages
            .iter()
            .enumerate()
            .map(|(index, bytes)| {
                serde_json::from_slice::<Message>(bytes).map_err(|error| {
                    format!("message {index} of the history is not a Converse message: {error}")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Self {
            created_ms,
            conversation: Conversation::from(messages),
            state,
        }))
    }
}

impl RawRecord {
    /// What the read script returned: the record, or why a key cannot be read (a key of another
    /// type). An unexpected reply is an error of the store, not of the session.
    pub(super) fn from_reply(reply: redis::Value) -> Result<Result<Self, String>, SessionError> {
        use redis::Value;
        let unexpected = |reply: &dyn std::fmt::Debug| SessionError::Unavailable {
            cause: format!("unexpected reply from a session script: {reply:?}"),
        };
        let items = match reply {
            Value::Array(items) => items,
            other => return Err(unexpected(&other)),
        };
        let text = |value: &Value| -> Result<Option<String>, SessionError> {
            redis::from_redis_value_ref(value).map_err(|_| unexpected(value))
        };
        match items.as_slice() {
            [Value::Int(1), format, created_ms, state, messages] => Ok(Ok(Self {
                format: text(format)?,
                created_ms: text(created_ms)?,
                state: text(state)?,
                messages: redis::from_redis_value_ref(messages)
                    .map_err(|_| unexpected(messages))?,
            })),
            [Value::Int(2), error] => Ok(Err(format!(
                "a key holds another type of value: {}",
                text(error)?.unwrap_or_default()
            ))),
            _ => Err(unexpected(&items)),
        }
    }
}

/// The list elements for `messages`.
pub(super) fn encode_messages(messages: &[Message]) -> Vec<Vec<u8>> {
    messages
        .iter()
        // Messages are plain data (strings, JSON values); serialising them cannot fail.
        .map(|message| serde_json::to_vec(message).unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(format: &str, created_ms: &str, messages: Vec<Vec<u8>>) -> RawRecord {
        RawRecord {
            format: Some(format.to_owned()),
            created_ms: Some(created_ms.to_owned()),
            state: None,
            messages,
        }
    }

    #[test]
    fn a_session_stored_before_the_state_reads_with_an_empty_state() {
        let messages = encode_messages(&[Message::user("2+5?")]);
        let stored = StoredSession::decode(record("1", "1", messages.clone()))
            .unwrap()
            .unwrap();
        assert!(stored.state.is_empty());
        let with_state = RawRecord {
            state: Some(r#"{"visits":2}"#.to_owned()),
            ..record("2", "1", messages)
        };
        let stored = StoredSession::decode(with_state).unwrap().unwrap();
        assert_eq!(stored.state["visits"], 2);
        let broken = RawRecord {
            state: Some("[1]".to_owned()),
            ..record("2", "1", vec![])
        };
        let error = StoredSession::decode(broken).unwrap_err();
        assert!(error.contains("the state is not a JSON object"), "{error}");
    }

    #[test]
    fn round_trips_a_history_in_wire_form() {
        let messages = vec![Message::user("2+5?"), Message::assistant("7")];
        let encoded = encode_messages(&messages);
        assert_eq!(
            String::from_utf8(encoded[0].clone()).unwrap(),
            r#"{"role":"user","content":[{"text":"2+5?"}]}"#
        );
        let stored = StoredSession::decode(record("1", "1700000000000", encoded))
            .unwrap()
            .unwrap();
        assert_eq!(stored.conversation, Conversation::from(messages));
        assert_eq!(stored.created_ms, 1_700_000_000_000);
    }

    #[test]
    fn absent_is_none_and_anything_unreadable_is_an_error() {
        assert_eq!(StoredSession::decode(RawRecord::default()), Ok(None));
        let cases = [
            (record("3", "1", vec![]), "format version \"3\""),
            (record("1", "soon", vec![]), "created_ms"),
            (
                record("1", "1", vec![b"{\"role\": ".to_vec()]),
                "message 0 of the history is not a Converse message",
            ),
            (
                RawRecord {
                    messages: vec![b"{}".to_vec()],
                    ..RawRecord::default()
                },
                "incomplete",
            ),
        ];
        for (raw, expected) in cases {
            let error = StoredSession::decode(raw).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
