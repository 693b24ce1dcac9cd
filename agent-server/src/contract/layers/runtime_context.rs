//! The request and session ids, as a middleware on the invocation routes: the headers are read
//! into the request's `RuntimeContext` once, before any handler, and the ids it settled on (sent
//! or generated) go back on the response, so a client that sent none learns its session.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::context::{REQUEST_ID_HEADER, RuntimeContext, SESSION_ID_HEADER};
use crate::observability::invocation_metrics::InvocationMetrics;

/// The request's context, taken out of its extensions where [`runtime_context`] put it (axum's
/// `Extension` would clone it).
pub(crate) struct Context(pub(crate) RuntimeContext);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Context {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Response> {
        parts
            .extensions
            .remove::<RuntimeContext>()
            .map(Context)
            .ok_or_else(|| {
                crate::error::InvocationError::Internal(
                    "the runtime context layer did not run".into(),
                )
                .into_response()
            })
    }
}

/// Reads the context into the request's extensions, or answers 400 for an unusable session or
/// user id (without the id headers, since there is no usable id to echo).
/// Such a refusal counts in the invocation `metrics`.
pub(crate) async fn runtime_context(
    State(metrics): State<Arc<InvocationMetrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let context = match RuntimeContext::from_headers(request.headers()) {
        Ok(context) => context,
        Err(error) => {
            metrics.record(error.status(), std::time::Instant::now());
            return error.into_response();
        }
    };
    let session_id = HeaderValue::from_bytes(context.session_id.as_str().as_bytes()).ok();
    let request_id = HeaderValue::from_str(&context.request_id).ok();
    request.extensions_mut().insert(context);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Some(value) = session_id {
        headers.insert(SESSION_ID_HEADER, value);
    }
    if let Some(value) = request_id {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    response
}
