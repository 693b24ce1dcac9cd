//! Tokens already verified, so that a client that sends the same token with every invocation
//! pays for its signature check once: keyed by the token's SHA-256 (the token itself is never
//! kept), each entry good until the token's `exp` plus the leeway the check allowed, bounded in
//! number so that a flood of distinct tokens cannot grow it without end.

use std::collections::HashMap;
use std::sync::Mutex;

use agent_core::VerifiedCaller;
use agent_core::sync::lock;
use sha2::{Digest, Sha256};

/// The most tokens kept at once.
pub(super) const MAX_VERIFIED_TOKENS: usize = 10_000;

/// The SHA-256 of a token.
pub(super) type TokenHash = [u8; 32];

pub(super) fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Verified tokens by hash, with the Unix second their verification ends.
#[derive(Default)]
pub(super) struct VerifiedTokens {
    entries: Mutex<HashMap<TokenHash, (VerifiedCaller, u64)>>,
}

impl VerifiedTokens {
    /// The caller a still-valid verified token proves.
    pub(super) fn get(&self, hash: &TokenHash, now: u64) -> Option<VerifiedCaller> {
        let mut entries = lock(&self.entries);
        match entries.get(hash) {
            Some((caller, until)) if now <= *until => Some(caller.clone()),
            Some(_) => {
                entries.remove(hash);
                None
            }
            None => None,
        }
    }

    /// Keeps `caller` for `hash` until `until`. When full, expired entries go first, then an
    /// arbitrary one: a cache miss costs one signature check, never a wrong answer.
    pub(super) fn insert(&self, hash: TokenHash, caller: VerifiedCaller, until: u64, now: u64) {
        let mut entries = lock(&self.entries);
        if entries.len() >= MAX_VERIFIED_TOKENS && !entries.contains_key(&hash) {
            entries.retain(|_, (_, kept_until)| now <= *kept_until);
            if entries.len() >= MAX_VERIFIED_TOKENS
                && let Some(evicted) = entries.keys().next().copied()
            {
                entries.remove(&evicted);
            }
        }
        entries.insert(hash, (caller, until));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.entries).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: &str) -> VerifiedCaller {
        VerifiedCaller::new(user, serde_json::Map::new())
    }

    #[test]
    fn an_entry_ends_with_its_token_and_the_cache_stays_bounded() {
        let tokens = VerifiedTokens::default();
        tokens.insert(hash("a"), caller("1"), 100, 0);
        assert_eq!(tokens.get(&hash("a"), 100).unwrap().user(), "1");
        assert!(tokens.get(&hash("a"), 101).is_none());
        assert!(tokens.get(&hash("b"), 0).is_none());
        for n in 0..MAX_VERIFIED_TOKENS + 10 {
            tokens.insert(hash(&n.to_string()), caller("1"), 1_000, 0);
        }
        assert_eq!(tokens.len(), MAX_VERIFIED_TOKENS);
    }
}
