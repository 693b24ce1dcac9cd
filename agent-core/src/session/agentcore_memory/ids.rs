//! How a runtime session and its owner are named in AgentCore Memory.
//!
//! Memory's ids are narrower than the runtime's: a `sessionId` is `[a-zA-Z0-9][a-zA-Z0-9-_]*`
//! up to 100 characters and an `actorId` `[a-zA-Z0-9][a-zA-Z0-9-_/]*(:[a-zA-Z0-9-_/]+)*` up to
//! 255, while a runtime session id is any text up to 256 characters and a user id any header
//! value. An id that fits is used as it is, so sessions other clients of the same memory wrote
//! (the Python SDK among them) are found under the same names. One that does not fit becomes its
//! allowed characters (at most [`READABLE_PREFIX_CHARS`]) followed by `-` and the first 128 bits
//! of its SHA-256 in hex: the same every time, and two ids meet only if their hashes do.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::session::{SessionId, SessionOwner};

/// The actor that stands for sessions without a user id. A user whose id is this very name is
/// hashed like an id that does not fit, so the two never share an actor.
pub(crate) const ANONYMOUS_ACTOR: &str = "anonymous";

/// How many characters of an id that does not fit are kept readable before its hash.
const READABLE_PREFIX_CHARS: usize = 40;

/// Memory's longest session id.
const MAX_MEMORY_SESSION_ID: usize = 100;

/// Memory's longest actor id.
const MAX_ACTOR_ID: usize = 255;

/// An AgentCore Memory resource, by id; an ARN is accepted and reduced to its id, as the
/// service's paths take the id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemoryId(String);

/// A memory id or ARN that is not one.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error(
    "`{0}` is not an AgentCore Memory id (`name-0123456789`) nor its ARN (`arn:aws:bedrock-agentcore:REGION:ACCOUNT:memory/ID`)"
)]
pub struct InvalidMemoryId(String);

impl MemoryId {
    /// The id as the service's paths take it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MemoryId {
    type Err = InvalidMemoryId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidMemoryId(text.to_owned());
        let id = match text.strip_prefix("arn:") {
            Some(arn) => arn
                .split_once(":memory/")
                .filter(|(service, _)| service.contains("bedrock-agentcore:"))
                .map(|(_, id)| id)
                .ok_or_else(invalid)?,
            None => text,
        };
        // `[a-zA-Z][a-zA-Z0-9-_]{0,99}-[a-zA-Z0-9]{10}`
        let (name, suffix) = id.rsplit_once('-').ok_or_else(invalid)?;
        let fits = name.len() <= 100
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && suffix.len() == 10
            && suffix.chars().all(|c| c.is_ascii_alphanumeric());
        if !fits {
            return Err(invalid());
        }
        Ok(Self(id.to_owned()))
    }
}

impl fmt::Display for MemoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Memory `sessionId` of a runtime session.
pub(crate) fn memory_session_id(id: &SessionId) -> String {
    let id = id.as_str();
    if fits(id, MAX_MEMORY_SESSION_ID, |c| c == '-' || c == '_') {
        id.to_owned()
    } else {
        hashed(id, |c| c == '-' || c == '_')
    }
}

/// The Memory `actorId` of a session's owner.
pub(crate) fn actor_id(owner: &SessionOwner) -> String {
    let actor_char = |c: char| matches!(c, '-' | '_' | '/' | ':');
    match owner {
        SessionOwner::Anonymous => ANONYMOUS_ACTOR.to_owned(),
        SessionOwner::User(user) if **user != *ANONYMOUS_ACTOR && fits_actor(user) => {
            user.to_string()
        }
        SessionOwner::User(user) => hashed(user, actor_char),
    }
}

/// Whether `id` matches Memory's actor pattern: segments separated by single colons.
fn fits_actor(id: &str) -> bool {
    id.len() <= MAX_ACTOR_ID
        && id.split(':').enumerate().all(|(index, segment)| {
            let segment_char = |c: char| c == '-' || c == '_' || c == '/';
            if index == 0 {
                fits(segment, MAX_ACTOR_ID, segment_char)
            } else {
                !segment.is_empty()
                    && segment
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || segment_char(c))
            }
        })
}

/// Whether `id` is an ASCII letter or digit followed by letters, digits or `extra` characters,
/// `max` at most.
fn fits(id: &str, max: usize, extra: impl Fn(char) -> bool) -> bool {
    !id.is_empty()
        && id.len() <= max
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || extra(c))
}

/// `id`'s allowed characters (leading ones a letter or digit), then `-` and 128 bits of its
/// SHA-256.
fn hashed(id: &str, extra: impl Fn(char) -> bool) -> String {
    let readable: String = id
        .chars()
        .filter(|&c| c.is_ascii_alphanumeric() || (extra(c) && c != ':'))
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(READABLE_PREFIX_CHARS)
        .collect();
    let digest = Sha256::digest(id.as_bytes());
    let hash: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if readable.is_empty() {
        format!("h-{hash}")
    } else {
        format!("{readable}-{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str) -> String {
        memory_session_id(&SessionId::parse(id).unwrap())
    }

    #[test]
    fn ids_that_fit_are_used_as_they_are() {
        assert_eq!(session("tutorial-session-1"), "tutorial-session-1");
        let longest = "a".repeat(100);
        assert_eq!(session(&longest), longest);
        assert_eq!(actor_id(&SessionOwner::user("1")), "1");
        assert_eq!(
            actor_id(&SessionOwner::user("org:team/user_1")),
            "org:team/user_1"
        );
        assert_eq!(actor_id(&SessionOwner::Anonymous), "anonymous");
    }

    #[test]
    fn ids_that_do_not_fit_are_hashed_within_the_pattern() {
        let long = "x".repeat(101);
        for id in [
            long.as_str(),
            "with spaces in it",
            "über",
            "-leading",
            "a.b",
        ] {
            let mapped = session(id);
            assert!(
                fits(&mapped, MAX_MEMORY_SESSION_ID, |c| c == '-' || c == '_'),
                "{mapped}"
            );
            assert_eq!(mapped, session(id), "deterministic");
        }
        assert_eq!(
            session("with spaces in it"),
            format!("withspacesinit-{}", &hex("with spaces in it")[..32])
        );
        assert!(session("über").starts_with("ber-"));
        assert!(session("...").starts_with("h-"));
        assert_ne!(
            session("a b"),
            session("a  b"),
            "the hash tells apart what the prefix does not"
        );
    }

    /// The mapping is stored in Memory: it must never change between versions.
    #[test]
    fn the_mapping_is_pinned() {
        assert_eq!(
            session("a session"),
            "asession-1e2952b478968fb69e10542344568388"
        );
    }

    #[test]
    fn owners_that_do_not_fit_and_the_anonymous_name_are_hashed() {
        for user in ["user@example.com", "a::b", "anonymous", ":x"] {
            let mapped = actor_id(&SessionOwner::user(user));
            assert!(fits_actor(&mapped), "{mapped}");
            assert_ne!(mapped, ANONYMOUS_ACTOR);
        }
        assert!(
            actor_id(&SessionOwner::user("user@example.com"))
                .starts_with("userexample.com".replace('.', "").as_str())
        );
    }

    #[test]
    fn memory_ids_and_arns_are_read() {
        let id: MemoryId = "tutorial_memory-AbCdE12345".parse().unwrap();
        assert_eq!(id.as_str(), "tutorial_memory-AbCdE12345");
        let arn: MemoryId =
            "arn:aws:bedrock-agentcore:us-west-2:123456789012:memory/tutorial_memory-AbCdE12345"
                .parse()
                .unwrap();
        assert_eq!(arn, id);
        for bad in [
            "",
            "nohyphen",
            "1abc-AbCdE12345",
            "name-short",
            "arn:aws:s3:::bucket/x",
        ] {
            assert!(bad.parse::<MemoryId>().is_err(), "{bad}");
        }
    }

    fn hex(text: &str) -> String {
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}
