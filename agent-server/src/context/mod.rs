//! What the entrypoint learns about the request it serves: the reference SDK's `RequestContext`
//! and `BedrockAgentCoreContext` in one value. How headers become one is in `headers`; which
//! headers reach it, by SDK 1.25's rule, in `forwarded_headers`.

pub(crate) mod forwarded_headers;
mod headers;

pub use headers::{REQUEST_ID_HEADER, SESSION_ID_HEADER, USER_ID_HEADER};

use std::collections::BTreeMap;
use std::fmt;

use agent_core::session::{SessionId, SessionKey, SessionOwner};
use agent_core::{RequestInfo, VerifiedCaller};

/// The runtime context handed to an entrypoint with each payload.
///
/// Its `Debug` form names the forwarded headers but shows none of their values and not the
/// workload access token, so logging a context never writes a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RuntimeContext {
    /// The runtime session id (from the request header, or generated for this request).
    pub session_id: SessionId,
    /// The request id (from the request header, or generated).
    pub request_id: String,
    /// AgentCore's runtime user id (`X-Amzn-Bedrock-AgentCore-Runtime-User-Id`), when sent.
    pub user_id: Option<String>,
    /// The forwarded headers (SDK 1.25's rule: see the README's contract table), keyed by lower-case name
    /// except `Authorization`, as the reference SDK keys them; repeated headers are joined
    /// with `, `.
    pub request_headers: BTreeMap<String, String>,
    /// AgentCore Identity's workload access token: `X-Amz-Bedrock-AgentCore-Identity-WAT`, else
    /// `WorkloadAccessToken`.
    pub workload_access_token: Option<String>,
    /// The OAuth2 callback URL of AgentCore Identity flows (`OAuth2CallbackUrl`).
    pub oauth2_callback_url: Option<String>,
    /// The caller whose bearer token the runtime verified, when inbound auth is on; its user
    /// is then `user_id` too, and owns every session the request reaches.
    pub caller: Option<VerifiedCaller>,
}

impl RuntimeContext {
    /// A context for `session_id` with nothing else known, for entrypoints called directly.
    pub fn for_session(session_id: SessionId) -> Self {
        Self {
            session_id,
            request_id: String::new(),
            user_id: None,
            request_headers: BTreeMap::new(),
            workload_access_token: None,
            oauth2_callback_url: None,
            caller: None,
        }
    }

    /// The session this request names, owned by the verified caller when inbound auth is on,
    /// else by the runtime user id when one was sent, and by nobody in particular otherwise.
    /// Entrypoints that know their user another way (the tutorial's payload `user_id`) build
    /// their [`SessionKey`] from that instead — and, with auth on, are held to the caller's.
    pub fn session_key(&self) -> SessionKey {
        let user = self
            .caller
            .as_ref()
            .map(VerifiedCaller::user)
            .or(self.user_id.as_deref());
        let owner = match user {
            Some(user) => SessionOwner::user(user),
            None => SessionOwner::Anonymous,
        };
        SessionKey::new(owner, self.session_id.clone())
    }

    /// What the agent's tools learn of this request (its id, the forwarded headers, the
    /// workload access token): give it to the turn with `SessionTurn::set_request`.
    pub fn request_info(&self) -> RequestInfo {
        self.clone().into_request_info()
    }

    /// As [`RuntimeContext::request_info`], taking the context's own values.
    pub fn into_request_info(self) -> RequestInfo {
        RequestInfo {
            request_id: self.request_id,
            headers: self.request_headers,
            workload_access_token: self.workload_access_token,
            caller: self.caller,
        }
    }
}

impl fmt::Debug for RuntimeContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeContext")
            .field("session_id", &self.session_id)
            .field("request_id", &self.request_id)
            .field("user_id", &self.user_id)
            .field("request_headers", &self.request_headers.keys())
            .field(
                "workload_access_token",
                &self.workload_access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("oauth2_callback_url", &self.oauth2_callback_url)
            .field("caller", &self.caller)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_belongs_to_the_runtime_user_or_to_nobody() {
        let mut context = RuntimeContext::for_session(SessionId::parse("s").unwrap());
        assert_eq!(context.session_key().owner, SessionOwner::Anonymous);
        context.user_id = Some("alice".into());
        assert_eq!(context.session_key().owner, SessionOwner::user("alice"));
        context.caller = Some(VerifiedCaller::new("bob", Default::default()));
        assert_eq!(context.session_key().owner, SessionOwner::user("bob"));
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut context = RuntimeContext::for_session(SessionId::parse("s").unwrap());
        context.workload_access_token = Some("wat-secret".into());
        context
            .request_headers
            .insert("Authorization".into(), "Bearer header-secret".into());
        let shown = format!("{context:?}");
        assert!(
            shown.contains("Authorization") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert!(!shown.contains("secret"), "{shown}");
    }
}
