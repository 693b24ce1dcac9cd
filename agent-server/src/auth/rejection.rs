//! Why a caller was refused, and how each refusal is answered: 401 with an RFC 6750
//! `WWW-Authenticate` challenge. A request without a token gets the bare challenge (RFC 6750
//! §3.1: no error code when no credentials were sent); a token that fails gets
//! `error="invalid_token"` and a description that names the reason. The token itself is never
//! written back, nor logged.

use axum::http::HeaderValue;
use thiserror::Error;

/// Why a bearer token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TokenRejection {
    /// No `Authorization: Bearer …` (nor, on `/ws`, the bearer subprotocol).
    #[error("a bearer token is required")]
    Missing,
    /// Not three base64url parts with a JSON header and claims.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// `none`, HMAC, or anything but RS*, PS*, ES256, ES384 and EdDSA; or an algorithm its key
    /// is not for.
    #[error("the token's algorithm {0} is not accepted")]
    Algorithm(String),
    /// No key the provider publishes has the token's `kid`.
    #[error("the token is signed by a key the provider does not publish")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    Signature,
    /// `exp` is past (beyond the leeway), or missing.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still to come (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the discovery document's issuer.
    #[error("the token's issuer is not the configured provider")]
    Issuer,
    /// `aud` names no allowed audience (nor, without `aud`, is `client_id` allowed).
    #[error("the token is not for an allowed audience")]
    Audience,
    /// `client_id` (or `azp`) is not an allowed client.
    #[error("the token's client is not allowed")]
    Client,
    /// The user claim is missing, not a string, or not a usable user id.
    #[error("the token's {0} claim does not name a usable user")]
    User(String),
}

impl TokenRejection {
    /// The `WWW-Authenticate` challenge this refusal answers with.
    pub fn challenge(&self) -> HeaderValue {
        let challenge = match self {
            Self::Missing => "Bearer".to_owned(),
            other => format!(r#"Bearer error="invalid_token", error_description="{other}""#),
        };
        // Every description is ours and plain ASCII; a claim name, configured by the operator,
        // is the one part that is not, and an unusable one falls back to the bare challenge.
        HeaderValue::from_str(&challenge).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_token_gets_the_bare_challenge_and_a_bad_one_names_its_reason() {
        assert_eq!(TokenRejection::Missing.challenge(), "Bearer");
        assert_eq!(
            TokenRejection::Expired.challenge(),
            r#"Bearer error="invalid_token", error_description="the token has expired""#
        );
    }
}
