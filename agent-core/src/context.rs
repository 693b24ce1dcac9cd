//! What the entrypoint learns about the request it serves.

use std::collections::BTreeMap;

use crate::session::SessionId;

/// Prefix of custom headers that AgentCore forwards to the agent.
pub const CUSTOM_HEADER_PREFIX: &str = "x-amzn-bedrock-agentcore-runtime-custom-";

/// The runtime context handed to an entrypoint with each payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeContext {
    /// The runtime session id (from the request header, or generated for this request).
    pub session_id: SessionId,
    /// The request id (from the request header, or generated).
    pub request_id: String,
    /// Forwarded headers: `Authorization` and the `X-Amzn-Bedrock-AgentCore-Runtime-Custom-*`
    /// ones, keyed by lower-case name except `Authorization`, as the reference SDK does.
    pub request_headers: BTreeMap<String, String>,
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
            "x-amz-security-token",
            "cookie",
            "host",
            "content-type",
            "x-forwarded-for",
        ] {
            assert_eq!(forwarded_header_key(refused), None, "{refused}");
        }
    }
}
