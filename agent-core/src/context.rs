//! What the entrypoint learns about the request it serves.

use std::collections::BTreeMap;

use crate::session::{SessionId, SessionKey, SessionOwner};

/// Prefix of custom headers that AgentCore forwards to the agent.
pub const CUSTOM_HEADER_PREFIX: &str = "x-amzn-bedrock-agentcore-runtime-custom-";

/// The runtime context handed to an entrypoint with each payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeContext {
    /// The runtime session id (from the request header, or generated for this request).
    pub session_id: SessionId,
    /// The request id (from the request header, or generated).
    pub request_id: String,
    /// AgentCore's runtime user id (`X-Amzn-Bedrock-AgentCore-Runtime-User-Id`), when sent.
    pub user_id: Option<String>,
    /// Forwarded headers: `Authorization` and the `X-Amzn-Bedrock-AgentCore-Runtime-Custom-*`
    /// ones, keyed by lower-case name except `Authorization`, as the reference SDK does.
    pub request_headers: BTreeMap<String, String>,
}

impl RuntimeContext {
    /// The session this request names, owned by the runtime user id when one was sent and by
    /// nobody in particular otherwise. Entrypoints that know their user another way (the
    /// tutorial's payload `user_id`) build their [`SessionKey`] from that instead.
    pub fn session_key(&self) -> SessionKey {
        let owner = match &self.user_id {
            Some(user) => SessionOwner::user(user),
            None => SessionOwner::Anonymous,
        };
        SessionKey::new(owner, self.session_id.clone())
    }
}

/// The key under which a header is forwarded to the entrypoint, or `None` if it is not.
pub fn forwarded_header_key(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if lower == "authorization" {
        Some("Authorization".to_owned())
    } else if lower.starts_with(CUSTOM_HEADER_PREFIX) && lower.len() > CUSTOM_HEADER_PREFIX.len() {
        Some(lower)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_authorization_and_custom_headers_only() {
        assert_eq!(
            forwarded_header_key("authorization").as_deref(),
            Some("Authorization")
        );
        assert_eq!(
            forwarded_header_key("X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant").as_deref(),
            Some("x-amzn-bedrock-agentcore-runtime-custom-tenant")
        );
        for refused in [
            "x-amzn-bedrock-agentcore-runtime-custom-",
            "x-amzn-bedrock-agentcore-runtime-session-id",
            "x-amzn-bedrock-agentcore-runtime-user-id",
            "x-amz-security-token",
            "cookie",
            "host",
            "content-type",
            "x-forwarded-for",
        ] {
            assert_eq!(forwarded_header_key(refused), None, "{refused}");
        }
    }

    #[test]
    fn the_session_belongs_to_the_runtime_user_or_to_nobody() {
        let mut context = RuntimeContext {
            session_id: SessionId::parse("s").unwrap(),
            request_id: "r".into(),
            user_id: None,
            request_headers: BTreeMap::new(),
        };
        assert_eq!(context.session_key().owner, SessionOwner::Anonymous);
        context.user_id = Some("alice".into());
        assert_eq!(context.session_key().owner, SessionOwner::user("alice"));
    }
}
