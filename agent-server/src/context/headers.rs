//! A request's headers read into its [`RuntimeContext`], by SDK 1.25's rules: the session id
//! (generated when absent), the request id (likewise), the runtime user id, the forwarded headers
//! and AgentCore Identity's token and callback URL. A `/ws` handshake is read the same way.

use std::collections::BTreeMap;

use agent_core::session::SessionId;
use axum::http::header::AsHeaderName;
use axum::http::{HeaderMap, HeaderName};

use super::RuntimeContext;
use super::forwarded_headers::{
    OAUTH2_CALLBACK_URL_HEADER, WORKLOAD_ACCESS_TOKEN_FALLBACK_HEADER,
    WORKLOAD_ACCESS_TOKEN_HEADER, forwarded_header_key,
};
use crate::error::InvocationError;

/// The runtime session id header.
pub const SESSION_ID_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-bedrock-agentcore-runtime-session-id");
/// AgentCore's runtime user id header: the owner of the sessions a request names, for
/// entrypoints that take it from the runtime (see [`RuntimeContext::session_key`]).
///
/// [`RuntimeContext::session_key`]: crate::RuntimeContext::session_key
pub const USER_ID_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-bedrock-agentcore-runtime-user-id");
/// The request id header.
pub const REQUEST_ID_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-bedrock-agentcore-runtime-request-id");
impl RuntimeContext {
    /// The context `headers` give, or why they give none (an unusable session or user id).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, InvocationError> {
        let session_id = session_id_of(headers)?;
        let user_id = user_id_of(headers)?;
        let request_id = header_text(headers, &REQUEST_ID_HEADER)
            .filter(|id| !id.is_empty())
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let present = |name: &str| header_text(headers, name).filter(|value| !value.is_empty());
        Ok(Self {
            session_id,
            request_id,
            user_id,
            request_headers: forwarded_headers(headers),
            workload_access_token: present(WORKLOAD_ACCESS_TOKEN_HEADER)
                .or_else(|| present(WORKLOAD_ACCESS_TOKEN_FALLBACK_HEADER))
                .map(str::to_owned),
            oauth2_callback_url: present(OAUTH2_CALLBACK_URL_HEADER).map(str::to_owned),
            caller: None,
        })
    }
}

/// The session id from its header, or a new one when the header is absent.
fn session_id_of(headers: &HeaderMap) -> Result<SessionId, InvocationError> {
    let Some(value) = headers.get(&SESSION_ID_HEADER) else {
        return Ok(SessionId::generate());
    };
    let text = std::str::from_utf8(value.as_bytes()).map_err(|_| {
        InvocationError::InvalidSessionId("the session id header is not valid UTF-8".into())
    })?;
    SessionId::parse(text).map_err(|error| InvocationError::InvalidSessionId(error.to_string()))
}

/// The runtime user id, held to the same rules as a session id since it names sessions too.
fn user_id_of(headers: &HeaderMap) -> Result<Option<String>, InvocationError> {
    let Some(value) = headers.get(&USER_ID_HEADER) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(value.as_bytes()).map_err(|_| {
        InvocationError::InvalidUserId("the user id header is not valid UTF-8".into())
    })?;
    SessionId::parse(text)
        .map(|_| Some(text.to_owned()))
        .map_err(|error| {
            InvocationError::InvalidUserId(error.to_string().replace("session id", "user id"))
        })
}

fn header_text(headers: &HeaderMap, name: impl AsHeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|value| std::str::from_utf8(value.as_bytes()).ok())
}

/// The forwardable headers; a repeated header's values joined with `, `, as HTTP reads them.
fn forwarded_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut forwarded = BTreeMap::<String, String>::new();
    for (name, value) in headers {
        let (Some(key), Ok(value)) = (
            forwarded_header_key(name.as_str()),
            std::str::from_utf8(value.as_bytes()),
        ) else {
            continue;
        };
        forwarded
            .entry(key)
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    forwarded
}
