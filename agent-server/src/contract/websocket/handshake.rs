//! The WebSocket opening handshake (RFC 6455 §4.2), done here rather than by axum's extractor so
//! that the upgraded connection can be read through the body budget's meter: the request is
//! checked, `101 Switching Protocols` answered with the key's accept value, and the connection
//! handed over once hyper has upgraded it. A browser's bearer subprotocol is selected in the
//! answer when offered. HTTP/1.1 only, as every WebSocket client speaks it.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use hyper::upgrade::OnUpgrade;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::auth::selected_subprotocol;
use crate::error::InvocationError;

/// A checked handshake: the answer to send, and the connection it will become.
pub(super) struct Handshake {
    pub(super) response: Response,
    pub(super) upgrade: OnUpgrade,
}

/// Checks `request` as a WebSocket opening handshake.
pub(super) fn accept(request: &mut Request) -> Result<Handshake, InvocationError> {
    let headers = request.headers();
    let refuse = |what: &str| InvocationError::NotWebSocket(what.to_owned());
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(refuse("the Connection header does not include upgrade"));
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(refuse("the Upgrade header does not name websocket"));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|version| version != "13")
    {
        return Err(refuse("Sec-WebSocket-Version must be 13"));
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| refuse("Sec-WebSocket-Key is missing"))?;
    let accept = derive_accept_key(key.as_bytes());
    let protocol = selected_subprotocol(headers);
    let upgrade = request
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or_else(|| refuse("the connection cannot be upgraded (HTTP/1.1 only)"))?;
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let answer = response.headers_mut();
    answer.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    answer.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        answer.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = protocol {
        answer.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    Ok(Handshake { response, upgrade })
}

/// Does the comma-separated header `name` hold `token`, without regard to case?
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|part| part.trim().eq_ignore_ascii_case(token))
}
