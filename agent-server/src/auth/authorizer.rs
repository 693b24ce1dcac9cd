//! The authorizer: a bearer token in, the [`VerifiedCaller`] it proves (or why it proves
//! nothing) out, by the rules of AgentCore's `customJWTAuthorizer`:
//!
//! - the header's algorithm is asymmetric (RS*, PS*, ES256, ES384, EdDSA) — `none` and HMAC are
//!   refused before any key is looked at, whatever the header says;
//! - the signature verifies with a key the provider publishes, chosen by `kid`, for that
//!   algorithm;
//! - `exp` is present and `exp` / `nbf` hold, with [`LEEWAY_SECS`] for clock skew;
//! - `iss` is the discovery document's `issuer`;
//! - with allowed audiences, `aud` names one — or, for an access token without `aud`
//!   (Cognito's), its `client_id` is an allowed client;
//! - with allowed clients, `client_id` (or `azp`) is one;
//! - the user claim (`sub` by default) is a string usable as a user id (1 to 256 characters, no
//!   control characters), since it names sessions.

use std::sync::Arc;
use std::time::Duration;

use agent_core::VerifiedCaller;
use agent_core::session::SessionId;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use thiserror::Error;

use super::config::AuthConfig;
use super::discovery::{FetchError, ProviderClient};
use super::key_set::Keys;
use super::rejection::TokenRejection;
use super::verified_tokens::{self, VerifiedTokens};

/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 60;

/// How often start-up tries to read the provider before it gives up.
const START_UP_TRIES: u32 = 3;

/// The algorithms a token may be signed with.
const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why an authorizer could not be set up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuthSetupError {
    /// The discovery document or the keys could not be read.
    #[error("the OpenID provider could not be read: {0}")]
    Provider(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The provider publishes no key this authorizer can verify with.
    #[error("the OpenID provider at {jwks_uri} publishes no asymmetric signing key")]
    NoKeys {
        /// Where the keys were read.
        jwks_uri: String,
    },
}

impl From<FetchError> for AuthSetupError {
    fn from(error: FetchError) -> Self {
        Self::Provider(Box::new(error))
    }
}

/// Verifies bearer tokens against one OpenID provider; cheap to clone.
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    issuer: String,
    keys: Arc<Keys>,
    verified: VerifiedTokens,
}

impl Authorizer {
    /// Reads the provider's discovery document and keys — trying [`START_UP_TRIES`] times, a
    /// second apart — and keeps the keys fresh in the background while the authorizer lives.
    ///
    /// A provider that cannot be read fails here, naming it, rather than starting a server that
    /// would refuse every caller while its `/ping` says healthy; the platform's restart tries
    /// again. Once started, a provider that goes down stops nothing: the keys in hand verify.
    pub async fn discover(config: AuthConfig) -> Result<Self, AuthSetupError> {
        let client = ProviderClient::new();
        let mut tries = 0;
        let (discovery, keys) = loop {
            tries += 1;
            let attempt = async {
                let discovery = client.discover(&config.discovery_url).await?;
                let keys = Keys::load(client.clone(), discovery.jwks_uri.clone()).await?;
                Ok::<_, FetchError>((discovery, keys))
            };
            match attempt.await {
                Ok(found) => break found,
                Err(error) if tries >= START_UP_TRIES => return Err(error.into()),
                Err(error) => {
                    tracing::warn!(error = %error, "the OpenID provider could not be read; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        if keys.count() == 0 {
            return Err(AuthSetupError::NoKeys {
                jwks_uri: keys.jwks_uri().to_owned(),
            });
        }
        let keys = Arc::new(keys);
        Keys::refresh_in_background(&keys, config.key_refresh);
        if config.accepts_any_audience_and_client() {
            tracing::warn!(
                issuer = %discovery.issuer,
                "inbound auth allows no audience or client in particular: every token of the issuer is accepted"
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                issuer: discovery.issuer,
                keys,
                verified: VerifiedTokens::default(),
            }),
        })
    }

    /// The issuer every accepted token carries.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The caller `token` proves, or why it proves none.
    pub async fn verify(&self, token: &str) -> Result<VerifiedCaller, TokenRejection> {
        let now = jsonwebtoken::get_current_timestamp();
        let hash = verified_tokens::hash(token);
        if let Some(caller) = self.inner.verified.get(&hash, now) {
            return Ok(caller);
        }
        let claims = self.verified_claims(token).await?;
        let caller = self.inner.check_claims(claims)?;
        let until = caller
            .claim("exp")
            .and_then(Value::as_u64)
            .map_or(now, |exp| exp.saturating_add(LEEWAY_SECS));
        self.inner.verified.insert(hash, caller.clone(), until, now);
        Ok(caller)
    }

    /// The token's claims once its algorithm, signature, `exp`, `nbf` and `iss` hold.
    async fn verified_claims(&self, token: &str) -> Result<Map<String, Value>, TokenRejection> {
        // The header is read here, once, from its own text, so `none` — which the library
        // cannot even represent — is named as the refusal it is.
        let header = TokenHeader::of(token).ok_or(TokenRejection::Malformed)?;
        let algorithm = header
            .alg
            .parse::<Algorithm>()
            .ok()
            .filter(|algorithm| ASYMMETRIC.contains(algorithm))
            .ok_or_else(|| TokenRejection::Algorithm(printable(&header.alg)))?;
        let keys = self.inner.keys.keys_for(header.kid.as_deref()).await;
        if keys.is_empty() {
            return Err(TokenRejection::UnknownKey);
        }
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.validate_aud = false; // checked below, with Cognito's rule
        validation.set_issuer(&[&self.inner.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        let mut rejection = TokenRejection::Algorithm(printable(&header.alg));
        for published in keys
            .iter()
            .filter(|key| key.algorithms.contains(&algorithm))
        {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &published.key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(error) => rejection = rejection_of(error.kind()),
            }
        }
        Err(rejection)
    }
}

impl Inner {
    /// The audience, client and user rules, on claims already verified.
    fn check_claims(&self, claims: Map<String, Value>) -> Result<VerifiedCaller, TokenRejection> {
        let config = &self.config;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let client = text("client_id").or_else(|| text("azp"));
        let client_allowed = |client: Option<&str>| {
            client.is_some_and(|id| config.allowed_clients.iter().any(|c| c == id))
        };
        if !config.allowed_audiences.is_empty() {
            let audiences: Vec<&str> = match claims.get("aud") {
                Some(Value::String(one)) => vec![one.as_str()],
                Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let allowed = if claims.contains_key("aud") {
                audiences.iter().any(|aud| {
                    config
                        .allowed_audiences
                        .iter()
                        .any(|allowed| allowed == aud)
                })
            } else {
                client_allowed(text("client_id"))
            };
            if !allowed {
                return Err(TokenRejection::Audience);
            }
        }
        if !config.allowed_clients.is_empty() && !client_allowed(client) {
            return Err(TokenRejection::Client);
        }
        let user = text(&config.user_claim)
            .filter(|user| SessionId::parse(user).is_ok())
            .ok_or_else(|| TokenRejection::User(config.user_claim.clone()))?
            .to_owned();
        Ok(VerifiedCaller::new(user, claims))
    }
}

/// What a token's header says, read without trusting anything else of it.
#[derive(serde::Deserialize)]
struct TokenHeader {
    alg: String,
    kid: Option<String>,
}

impl TokenHeader {
    fn of(token: &str) -> Option<Self> {
        use base64::Engine;
        let encoded = token.split('.').next()?;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()?;
        serde_json::from_slice(&header).ok()
    }
}

/// An algorithm's name as a challenge's description may carry it: printable ASCII, short.
fn printable(named: &str) -> String {
    named
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(16)
        .collect()
}

/// What a failed check of `jsonwebtoken` means to the caller.
fn rejection_of(kind: &ErrorKind) -> TokenRejection {
    match kind {
        ErrorKind::ExpiredSignature => TokenRejection::Expired,
        ErrorKind::ImmatureSignature => TokenRejection::NotYetValid,
        ErrorKind::InvalidIssuer => TokenRejection::Issuer,
        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => TokenRejection::Issuer,
        ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => TokenRejection::Expired,
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_) => TokenRejection::Signature,
        ErrorKind::InvalidAlgorithm => TokenRejection::Algorithm("for its key".into()),
        _ => TokenRejection::Malformed,
    }
}
