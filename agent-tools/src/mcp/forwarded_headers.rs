//! The invocation's own headers on each call to a streamable-HTTP server (`forward_headers`).
//!
//! One connection serves every session, so a header that names the calling user cannot be
//! configured on the connection. Instead each `tools/call` carries its headers in the request's
//! in-process extensions — never serialised, never on the wire as JSON — and this HTTP client,
//! otherwise reqwest's as rmcp uses it, adds them to that one POST.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, JsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;

/// Headers for the one request they are attached to.
#[derive(Debug, Clone, Default)]
pub(crate) struct ForwardedHeaders(pub(crate) Vec<(HeaderName, HeaderValue)>);

/// reqwest's streamable-HTTP client, adding each request's [`ForwardedHeaders`]. The transport
/// posts through `post_message_with_response_limits`; `post_message` is the trait's required
/// form, and the SSE-size form it falls back to is left to the trait's default.
#[derive(Clone)]
pub(crate) struct ForwardingClient(reqwest::Client);

impl Default for ForwardingClient {
    /// As rmcp builds its own: no idle connections kept (a reused connection whose last body was
    /// not read to the end stalls on delayed ACKs), and no redirect followed — a redirect must
    /// not carry a user's token to another address.
    fn default() -> Self {
        Self(
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client of fixed, valid settings"),
        )
    }
}

impl ForwardingClient {
    /// The headers for `message`: the connection's, and the request's own on top.
    fn headers_for(
        message: &ClientJsonRpcMessage,
        mut headers: HashMap<HeaderName, HeaderValue>,
    ) -> HashMap<HeaderName, HeaderValue> {
        if let JsonRpcMessage::Request(request) = message
            && let Some(forwarded) = request.request.extensions().get::<ForwardedHeaders>()
        {
            for (name, value) in &forwarded.0 {
                headers.insert(name.clone(), value.clone());
            }
        }
        headers
    }
}

impl StreamableHttpClient for ForwardingClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let headers = Self::headers_for(&message, custom_headers);
        self.0
            .post_message(uri, message, session_id, auth_header, headers)
            .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let headers = Self::headers_for(&message, custom_headers);
        self.0
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                headers,
                limits,
            )
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.0
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.0
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.0
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
    }
}
