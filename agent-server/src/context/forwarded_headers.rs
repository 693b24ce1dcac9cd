//! Which request headers reach an entrypoint's context, by the rule of the reference SDK 1.25
//! (itself AgentCore Runtime's header allowlist): every header except the restricted names
//! below, `x-amz-*` other than the workload access token header, and `x-amzn-*` other than the
//! `X-Amzn-Bedrock-AgentCore-Runtime-Custom-` ones. So an agent ported from Python sees the same
//! `request_headers`: `X-Api-Key`, `traceparent`, `baggage` and application headers included,
//! transport, proxy, cookie and AgentCore's own headers left out.

/// Prefix of the custom headers AgentCore passes through to the agent.
pub(crate) const CUSTOM_HEADER_PREFIX: &str = "x-amzn-bedrock-agentcore-runtime-custom-";
/// The workload access token header of AgentCore Identity; wins over `WorkloadAccessToken`.
pub(crate) const WORKLOAD_ACCESS_TOKEN_HEADER: &str = "x-amz-bedrock-agentcore-identity-wat";
/// The older name of the workload access token header.
pub(crate) const WORKLOAD_ACCESS_TOKEN_FALLBACK_HEADER: &str = "workloadaccesstoken";
/// The OAuth2 callback URL header of AgentCore Identity flows.
pub(crate) const OAUTH2_CALLBACK_URL_HEADER: &str = "oauth2callbackurl";

/// The key under which a header is forwarded, or `None` if it is not: lower-case, as the
/// reference's Starlette headers are, except `Authorization` under its canonical key.
pub(crate) fn forwarded_header_key(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if lower == "authorization" {
        return Some("Authorization".to_owned());
    }
    let forwardable = !RESTRICTED.contains(&lower.as_str())
        && (!lower.starts_with("x-amz-") || lower == WORKLOAD_ACCESS_TOKEN_HEADER)
        && (!lower.starts_with("x-amzn-") || lower.starts_with(CUSTOM_HEADER_PREFIX));
    forwardable.then_some(lower)
}

/// Headers never forwarded, lower-cased: SDK 1.25's `RESTRICTED_HEADERS`.
const RESTRICTED: [&str; 108] = [
    "proxy-authorization",
    "www-authenticate",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "content-type",
    "content-length",
    "content-encoding",
    "content-language",
    "content-location",
    "content-range",
    "cache-control",
    "etag",
    "expires",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "pragma",
    "vary",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "host",
    "user-agent",
    "referer",
    "from",
    "range",
    "accept-ranges",
    "transfer-encoding",
    "te",
    "trailer",
    "server",
    "date",
    "location",
    "retry-after",
    "set-cookie",
    "cookie",
    "content-security-policy",
    "content-security-policy-report-only",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-embedder-policy",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-max-age",
    "access-control-request-method",
    "access-control-request-headers",
    "origin",
    "accept-ch",
    "accept-ch-lifetime",
    "dpr",
    "width",
    "viewport-width",
    "downlink",
    "ect",
    "rtt",
    "save-data",
    "clear-site-data",
    "feature-policy",
    "expect-ct",
    "public-key-pins",
    "public-key-pins-report-only",
    "via",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-requested-with",
    "x-csrf-token",
    "true-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-originating-ip",
    "x-source-ip",
    "x-original-url",
    "x-original-host",
    "x-rewrite-url",
    "cf-ray",
    "cf-connecting-ip",
    "x-amz-cf-id",
    "x-cache",
    "x-served-by",
    ":method",
    ":path",
    ":scheme",
    ":authority",
    ":status",
    "link",
    "sec-websocket-key",
    "sec-websocket-accept",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_by_the_sdk_rule() {
        for (name, key) in [
            ("authorization", "Authorization"),
            ("AUTHORIZATION", "Authorization"),
            ("X-Api-Key", "x-api-key"),
            ("traceparent", "traceparent"),
            ("baggage", "baggage"),
            ("WorkloadAccessToken", "workloadaccesstoken"),
            ("OAuth2CallbackUrl", "oauth2callbackurl"),
            (
                "X-Amz-Bedrock-AgentCore-Identity-WAT",
                "x-amz-bedrock-agentcore-identity-wat",
            ),
            (
                "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant",
                "x-amzn-bedrock-agentcore-runtime-custom-tenant",
            ),
        ] {
            assert_eq!(forwarded_header_key(name).as_deref(), Some(key), "{name}");
        }
        for refused in [
            "user-agent",
            "Cookie",
            "X-Forwarded-For",
            "content-type",
            "host",
            "sec-websocket-key",
            "x-amz-date",
            "x-amz-security-token",
            "X-Amzn-Trace-Id",
            "x-amzn-bedrock-agentcore-runtime-session-id",
            "x-amzn-bedrock-agentcore-runtime-user-id",
        ] {
            assert_eq!(forwarded_header_key(refused), None, "{refused}");
        }
    }

    #[test]
    fn the_restricted_list_is_compared_lower_case() {
        assert!(
            RESTRICTED
                .iter()
                .all(|name| *name == name.to_ascii_lowercase())
        );
    }
}
