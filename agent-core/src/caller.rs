//! Who called, as a verified token proves it: the user the runtime's authorizer found in the
//! caller's token, and the token's claims. It reaches entrypoints and tools from the runtime —
//! never from a payload or the model's input — so a tool that acts for "the user" acts for the
//! one the token names.

use std::fmt;

use serde_json::{Map, Value};

/// A caller whose bearer token the runtime verified: its user (the configured claim, `sub` by
/// default) and every claim of the token. Its `Debug` form shows the user and the claims' names,
/// never their values.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedCaller {
    user: String,
    claims: Map<String, Value>,
}

impl VerifiedCaller {
    /// A caller verified as `user`, with its token's `claims`.
    pub fn new(user: impl Into<String>, claims: Map<String, Value>) -> Self {
        Self {
            user: user.into(),
            claims,
        }
    }

    /// The verified user: the sessions it calls are this user's.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Every claim of the verified token (`iss`, `scope`, `client_id`, `email`, …).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// One claim, when the token has it.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }
}

impl fmt::Debug for VerifiedCaller {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("VerifiedCaller")
            .field("user", &self.user)
            .field("claims", &self.claims.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_the_claims_but_shows_none_of_their_values() {
        let claims = serde_json::json!({"sub": "1", "email": "maira@example.com"});
        let caller = VerifiedCaller::new("1", claims.as_object().unwrap().clone());
        let shown = format!("{caller:?}");
        assert!(
            shown.contains("email") && shown.contains("\"1\""),
            "{shown}"
        );
        assert!(!shown.contains("maira@"), "{shown}");
        assert_eq!(caller.claim("email").unwrap(), "maira@example.com");
    }
}
