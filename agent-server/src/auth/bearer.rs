//! Where a caller's token is read from: `Authorization: Bearer <token>`, as AgentCore's
//! authorizer reads it; and, for a browser's WebSocket — which cannot set headers — AgentCore's
//! own scheme in `Sec-WebSocket-Protocol`: the protocol
//! `base64UrlBearerAuthorization.<the token, base64url without padding>` beside the protocol
//! `base64UrlBearerAuthorization` itself, which the server selects in its answer so that the
//! browser accepts the handshake.

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The WebSocket subprotocol a browser offers beside the one that carries its token; the server
/// selects it.
pub const BEARER_SUBPROTOCOL: &str = "base64UrlBearerAuthorization";

/// The bearer token of a request: the `Authorization` header's, else (on a WebSocket handshake)
/// the one carried in its subprotocols.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<Cow<'_, str>> {
    authorization_bearer(headers)
        .map(Cow::Borrowed)
        .or_else(|| subprotocol_bearer(headers).map(Cow::Owned))
}

/// `Authorization: Bearer <token>`, the scheme matched without regard to case (RFC 7235).
fn authorization_bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The offered WebSocket subprotocols, in order.
fn subprotocols(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
}

/// The token in a `base64UrlBearerAuthorization.<token>` subprotocol.
fn subprotocol_bearer(headers: &HeaderMap) -> Option<String> {
    let prefix = format!("{BEARER_SUBPROTOCOL}.");
    let encoded = subprotocols(headers).find_map(|protocol| protocol.strip_prefix(&prefix))?;
    let decoded = URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')).ok()?;
    String::from_utf8(decoded).ok()
}

/// The subprotocol to select in a WebSocket handshake's answer: the bearer sentinel when the
/// client offered it (a browser refuses a handshake that selects none of its protocols).
pub(crate) fn selected_subprotocol(headers: &HeaderMap) -> Option<HeaderValue> {
    subprotocols(headers)
        .any(|protocol| protocol == BEARER_SUBPROTOCOL)
        .then(|| HeaderValue::from_static(BEARER_SUBPROTOCOL))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn the_authorization_header_is_read_whatever_the_scheme_case() {
        let sent = headers(&[(header::AUTHORIZATION, "bearer abc.def.ghi")]);
        assert_eq!(bearer_token(&sent).as_deref(), Some("abc.def.ghi"));
        for value in ["Basic dXNlcjpwYXNz", "Bearer ", "Bearer"] {
            assert_eq!(
                bearer_token(&headers(&[(header::AUTHORIZATION, value)])),
                None,
                "{value}"
            );
        }
    }

    #[test]
    fn a_browser_token_comes_in_the_subprotocols_and_the_sentinel_is_selected() {
        let encoded = URL_SAFE_NO_PAD.encode("abc.def.ghi");
        let sent = headers(&[(
            header::SEC_WEBSOCKET_PROTOCOL,
            &format!("{BEARER_SUBPROTOCOL}.{encoded}, {BEARER_SUBPROTOCOL}"),
        )]);
        assert_eq!(bearer_token(&sent).as_deref(), Some("abc.def.ghi"));
        assert_eq!(selected_subprotocol(&sent).unwrap(), BEARER_SUBPROTOCOL);
        assert_eq!(selected_subprotocol(&HeaderMap::new()), None);
    }
}
