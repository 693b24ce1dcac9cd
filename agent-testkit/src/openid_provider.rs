//! An OpenID Connect provider on a loopback port, for inbound auth to be tried against: its
//! discovery document and JWKS served as a provider serves them, signing keys made by `openssl`
//! (RSA, P-256, Ed25519), tokens minted with them, and the faults a real provider has — keys
//! rotated, published and retired, the provider down and back. It counts JWKS reads, so tests can
//! check the authorizer's refetch rule.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use agent_core::sync::lock;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::restartable_port::RestartablePort;

/// The audience [`OpenIdProvider::claims_for`] puts in its tokens.
pub const TEST_AUDIENCE: &str = "agentcore-rs-tests";
/// The client id [`OpenIdProvider::claims_for`] puts in its tokens.
pub const TEST_CLIENT: &str = "test-client";

/// A private signing key of the provider's, with its `kid` and algorithm.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    /// The public JWK the provider publishes for it.
    jwk: Value,
}

impl SigningKey {
    /// A new 2048-bit RSA key for RS256.
    pub fn rsa(kid: &str) -> Self {
        let pem = openssl_key(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
        Self::new(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&pem).expect("an RSA key"),
        )
    }

    /// A new P-256 key for ES256.
    pub fn ec(kid: &str) -> Self {
        let pem = openssl_key(&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
        Self::new(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&pem).expect("an EC key"),
        )
    }

    /// A new Ed25519 key for EdDSA.
    pub fn ed25519(kid: &str) -> Self {
        let pem = openssl_key(&["-algorithm", "ED25519"]);
        Self::new(
            kid,
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(&pem).expect("an Ed25519 key"),
        )
    }

    fn new(kid: &str, algorithm: Algorithm, encoding: EncodingKey) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).expect("a public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        let mut jwk = serde_json::to_value(jwk).expect("a JWK as JSON");
        jwk["use"] = json!("sig");
        Self {
            kid: kid.to_owned(),
            algorithm,
            encoding,
            jwk,
        }
    }

    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK published for this key.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// `claims` signed with this key, the header naming its `kid` and algorithm.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("a signed token")
    }
}

/// A PKCS#8 private key in PEM from `openssl genpkey`.
fn openssl_key(args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .output()
        .expect("openssl on the PATH (the README's test prerequisites)");
    assert!(output.status.success(), "openssl genpkey {args:?} failed");
    output.stdout
}

/// An OpenID provider on a loopback port.
pub struct OpenIdProvider {
    shared: Arc<Shared>,
    port: RestartablePort,
    signing: SigningKey,
}

struct Shared {
    published: Mutex<Vec<Value>>,
    jwks_reads: AtomicUsize,
    issuer: Mutex<String>,
}

impl OpenIdProvider {
    /// A provider publishing one new RSA key (`kid` "key-1"), which signs its tokens.
    pub async fn start() -> Self {
        Self::start_with(SigningKey::rsa("key-1")).await
    }

    /// A provider publishing `signing`, which signs its tokens.
    pub async fn start_with(signing: SigningKey) -> Self {
        let shared = Arc::new(Shared {
            published: Mutex::new(vec![signing.jwk.clone()]),
            jwks_reads: AtomicUsize::new(0),
            issuer: Mutex::new(String::new()),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(shared.clone());
        let port = RestartablePort::serve(router).await;
        *lock(&shared.issuer) = format!("http://{}", port.address());
        Self {
            shared,
            port,
            signing,
        }
    }

    /// The discovery document's URL, for `--auth-discovery-url`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    /// The issuer its tokens carry.
    pub fn issuer(&self) -> String {
        lock(&self.shared.issuer).clone()
    }

    /// The key its tokens are signed with.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// Claims of a token for `user`: this issuer, [`TEST_AUDIENCE`], [`TEST_CLIENT`], valid for
    /// an hour from now.
    pub fn claims_for(&self, user: &str) -> Value {
        let now = jsonwebtoken::get_current_timestamp();
        json!({
            "iss": self.issuer(),
            "sub": user,
            "aud": TEST_AUDIENCE,
            "client_id": TEST_CLIENT,
            "iat": now,
            "exp": now + 3600,
        })
    }

    /// A valid token for `user`.
    pub fn token_for(&self, user: &str) -> String {
        self.signing.sign(&self.claims_for(user))
    }

    /// `claims` signed with the provider's key.
    pub fn sign(&self, claims: &Value) -> String {
        self.signing.sign(claims)
    }

    /// Publishes `key` beside the keys already published.
    pub fn publish(&self, key: &SigningKey) {
        lock(&self.shared.published).push(key.jwk.clone());
    }

    /// Publishes exactly `keys`, as after a rotation.
    pub fn publish_only(&self, keys: &[&SigningKey]) {
        *lock(&self.shared.published) = keys.iter().map(|key| key.jwk.clone()).collect();
    }

    /// Publishes `jwk` as it is (a symmetric key, an encryption key, anything).
    pub fn publish_raw(&self, jwk: Value) {
        lock(&self.shared.published).push(jwk);
    }

    /// How many times its JWKS has been read.
    pub fn jwks_reads(&self) -> usize {
        self.shared.jwks_reads.load(Ordering::SeqCst)
    }

    /// Closes the port and drops every open connection: the provider is down.
    pub fn stop(&self) {
        self.port.stop();
    }

    /// Serves again on the same port.
    pub async fn resume(&self) {
        self.port.resume().await;
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let issuer = lock(&shared.issuer).clone();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.jwks_reads.fetch_add(1, Ordering::SeqCst);
    Json(json!({ "keys": lock(&shared.published).clone() }))
}
