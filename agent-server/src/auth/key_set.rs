//! The provider's signing keys (its JWKS) and the rule for reading them again.
//!
//! Only keys that can verify an asymmetric signature are loaded: RSA, P-256/P-384 and Ed25519.
//! A symmetric (`oct`) key is never loaded — a provider's public document is no place for a
//! secret, and loading one would let anyone who read it sign tokens — nor a key published for
//! encryption (`use: enc`). A key binds the algorithms it may verify: its own `alg` when it names
//! one, else what its type and curve allow, so a token cannot pick a weaker algorithm for a key.
//!
//! Keys are read at start-up and again in the background (every 15 minutes unless configured); a token whose
//! `kid` is unknown (the provider rotated its keys) reads them again at once — but at most once
//! per [`REFETCH_AT_MOST_EVERY`], one read at a time, so a flood of made-up `kid`s costs the
//! provider one request per interval. A read that fails keeps the keys in hand.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use agent_core::sync::{read, write};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

use super::discovery::{FetchError, ProviderClient};

/// How often, at most, an unknown `kid` has the keys read again.
pub(super) const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(30);

/// One published key and the algorithms it may verify.
pub(super) struct PublishedKey {
    pub(super) key: DecodingKey,
    pub(super) algorithms: Vec<Algorithm>,
}

/// The keys of one read of the JWKS, by `kid`.
#[derive(Default)]
pub(super) struct KeySet {
    by_id: HashMap<String, Arc<PublishedKey>>,
    /// Keys published without a `kid`; a token without one is tried against these alone.
    unnamed: Vec<Arc<PublishedKey>>,
}

/// A JWKS document, its keys still unread one by one, so that a key of a type this module does
/// not know leaves the others usable.
#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<Value>,
}

impl KeySet {
    /// The usable keys of a JWKS document; the others are left out with a warning.
    fn from_document(document: JwksDocument) -> Self {
        let mut set = Self::default();
        for value in document.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                tracing::warn!("a key of the provider's JWKS could not be read; left out");
                continue;
            };
            match published_key(&jwk) {
                Some(key) => match jwk.common.key_id {
                    Some(kid) => {
                        set.by_id.insert(kid, Arc::new(key));
                    }
                    None => set.unnamed.push(Arc::new(key)),
                },
                None => tracing::warn!(
                    kid = jwk.common.key_id.as_deref().unwrap_or(""),
                    "a key of the provider's JWKS is not an asymmetric signing key; left out"
                ),
            }
        }
        set
    }

    fn get(&self, kid: Option<&str>) -> Vec<Arc<PublishedKey>> {
        match kid {
            Some(kid) => self.by_id.get(kid).cloned().into_iter().collect(),
            None => self.unnamed.clone(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.by_id.len() + self.unnamed.len()
    }
}

/// A JWK as a key that verifies signatures, with the algorithms it may verify; `None` for
/// symmetric keys, encryption keys, and keys whose `alg` does not fit their type.
fn published_key(jwk: &Jwk) -> Option<PublishedKey> {
    if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
        return None;
    }
    let by_type: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa.algorithms(),
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => &[Algorithm::ES256],
            EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(params) => match params.curve {
            EllipticCurve::Ed25519 => &[Algorithm::EdDSA],
            _ => return None,
        },
        // Symmetric keys, and any kind this module does not know.
        _ => return None,
    };
    let algorithms = match jwk.common.key_algorithm {
        None => by_type.to_vec(),
        Some(named) => {
            let named = by_type
                .iter()
                .copied()
                .find(|algorithm| KeyAlgorithm::from(*algorithm) == named)?;
            vec![named]
        }
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(PublishedKey { key, algorithms })
}

/// The keys in hand and the rule for reading them again; shared by the authorizer and its
/// background refresh.
pub(super) struct Keys {
    current: RwLock<Arc<KeySet>>,
    /// When the keys were last read for an unknown `kid`; held across the read, so one read runs
    /// at a time and the callers behind it find its keys.
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
    client: ProviderClient,
    jwks_uri: String,
}

impl Keys {
    /// Reads the keys now.
    pub(super) async fn load(client: ProviderClient, jwks_uri: String) -> Result<Self, FetchError> {
        let set = fetch(&client, &jwks_uri).await?;
        Ok(Self {
            current: RwLock::new(Arc::new(set)),
            last_refetch: tokio::sync::Mutex::new(None),
            client,
            jwks_uri,
        })
    }

    pub(super) fn jwks_uri(&self) -> &str {
        &self.jwks_uri
    }

    pub(super) fn count(&self) -> usize {
        read(&self.current).len()
    }

    /// The keys that may have signed a token naming `kid`: from the keys in hand, else from
    /// the keys read again when the rule allows.
    pub(super) async fn keys_for(&self, kid: Option<&str>) -> Vec<Arc<PublishedKey>> {
        let known = read(&self.current).get(kid);
        if !known.is_empty() {
            return known;
        }
        let mut last = self.last_refetch.lock().await;
        // A read that ran while this caller waited may have brought the key.
        let known = read(&self.current).get(kid);
        if !known.is_empty() {
            return known;
        }
        if last.is_some_and(|at| at.elapsed() < REFETCH_AT_MOST_EVERY) {
            return Vec::new();
        }
        *last = Some(Instant::now());
        self.refresh().await;
        read(&self.current).get(kid)
    }

    /// Reads the keys again; a failed read keeps the keys in hand.
    async fn refresh(&self) {
        match fetch(&self.client, &self.jwks_uri).await {
            Ok(set) => *write(&self.current) = Arc::new(set),
            Err(error) => tracing::warn!(
                error = %error,
                "the provider's keys could not be read again; the keys in hand stay in use"
            ),
        }
    }

    /// Reads the keys again every `every` while the authorizer lives.
    pub(super) fn refresh_in_background(keys: &Arc<Self>, every: Duration) {
        let keys: Weak<Self> = Arc::downgrade(keys);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                ticks.tick().await;
                let Some(keys) = keys.upgrade() else { return };
                keys.refresh().await;
            }
        });
    }
}

async fn fetch(client: &ProviderClient, jwks_uri: &str) -> Result<KeySet, FetchError> {
    client
        .fetch::<JwksDocument>(jwks_uri)
        .await
        .map(KeySet::from_document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(keys: Value) -> KeySet {
        KeySet::from_document(serde_json::from_value(json!({ "keys": keys })).unwrap())
    }

    const RSA_N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    #[test]
    fn only_asymmetric_signing_keys_are_loaded_and_alg_binds_them() {
        let keys = set(json!([
            {"kty": "RSA", "kid": "rsa", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-ps", "alg": "PS256", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-enc", "use": "enc", "n": RSA_N, "e": "AQAB"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "rsa-as-ec", "alg": "ES256", "n": RSA_N, "e": "AQAB"},
            {"kty": "XYZ", "kid": "unknown"},
        ]));
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.get(Some("rsa"))[0].algorithms.len(), 6);
        assert_eq!(keys.get(Some("rsa-ps"))[0].algorithms, [Algorithm::PS256]);
        for left_out in ["rsa-enc", "secret", "rsa-as-ec", "unknown"] {
            assert!(keys.get(Some(left_out)).is_empty(), "{left_out}");
        }
        assert!(keys.get(None).is_empty());
    }
}
