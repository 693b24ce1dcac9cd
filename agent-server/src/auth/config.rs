//! What an [`Authorizer`](super::Authorizer) accepts: AgentCore's `customJWTAuthorizer`
//! settings (`discoveryUrl`, `allowedAudience`, `allowedClients`) and the claim that names the
//! user.

use std::time::Duration;

/// How often the provider's keys are read again in the background unless configured.
pub(super) const DEFAULT_KEY_REFRESH: Duration = Duration::from_secs(15 * 60);

/// The claim that names the user when none is configured: the token's subject.
pub const DEFAULT_USER_CLAIM: &str = "sub";

/// The settings of inbound JWT auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    pub(crate) discovery_url: String,
    pub(crate) allowed_audiences: Vec<String>,
    pub(crate) allowed_clients: Vec<String>,
    pub(crate) user_claim: String,
    pub(crate) key_refresh: Duration,
}

impl AuthConfig {
    /// Tokens of the provider whose OpenID Connect discovery document is at `discovery_url`
    /// (ending in `/.well-known/openid-configuration`), any audience or client, the user in
    /// `sub`.
    pub fn new(discovery_url: impl Into<String>) -> Self {
        Self {
            discovery_url: discovery_url.into(),
            allowed_audiences: Vec::new(),
            allowed_clients: Vec::new(),
            user_claim: DEFAULT_USER_CLAIM.to_owned(),
            key_refresh: DEFAULT_KEY_REFRESH,
        }
    }

    /// Accepts tokens whose `aud` names `audience` (or, for an access token without `aud`, as
    /// Cognito's are, whose `client_id` is an allowed client). Once any audience is allowed, a
    /// token for none of them is refused.
    pub fn allow_audience(mut self, audience: impl Into<String>) -> Self {
        self.allowed_audiences.push(audience.into());
        self
    }

    /// Accepts tokens whose `client_id` (or `azp`) is `client`. Once any client is allowed, a
    /// token of another is refused.
    pub fn allow_client(mut self, client: impl Into<String>) -> Self {
        self.allowed_clients.push(client.into());
        self
    }

    /// Reads the user from `claim` instead of `sub` (`username`, `email`, …).
    pub fn with_user_claim(mut self, claim: impl Into<String>) -> Self {
        self.user_claim = claim.into();
        self
    }

    /// Reads the provider's keys again every `every` (15 minutes by default), so a key it
    /// publishes ahead of a rotation is in hand before the first token signed with it.
    pub fn with_key_refresh(mut self, every: Duration) -> Self {
        self.key_refresh = every;
        self
    }

    /// The discovery document's URL.
    pub fn discovery_url(&self) -> &str {
        &self.discovery_url
    }

    /// True when neither audiences nor clients are restricted: every token of the issuer passes.
    pub fn accepts_any_audience_and_client(&self) -> bool {
        self.allowed_audiences.is_empty() && self.allowed_clients.is_empty()
    }
}
