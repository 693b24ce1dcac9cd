//! The request and session ids, as a middleware on the invocation routes: the headers are read
//! into the request's `RuntimeContext` once, before any handler, and the ids it settled on (sent
//! or generated) go back on the response, so a client that sent none learns its session.
//!
//! With inbound auth on, the caller's bearer token is verified here too, before any route runs
//! (so `/ws` is refused before its upgrade): no token or a bad one is a 401, a runtime user id
//! header that names another user than the token's is a 403, and the verified caller goes into
//! the context, its user as the context's user.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{Authorizer, TokenRejection, bearer_token};
use crate::context::{REQUEST_ID_HEADER, RuntimeContext, SESSION_ID_HEADER};
use crate::error::InvocationError;
use crate::observability::invocation_metrics::InvocationMetrics;

/// What the middleware needs: where refusals are counted, and the authorizer when auth is on.
#[derive(Clone)]
pub(crate) struct ContextLayerState {
    pub(crate) metrics: Arc<InvocationMetrics>,
    pub(crate) authorizer: Option<Authorizer>,
}

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
/// user id, 401 / 403 when auth is on and the caller is not proven or names another user
/// (without the id headers, since the request got no further). Such a refusal counts in the
/// invocation metrics.
pub(crate) async fn runtime_context(
    State(state): State<ContextLayerState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let context = match RuntimeContext::from_headers(request.headers()) {
        Ok(context) => match &state.authorizer {
            Some(authorizer) => authorize(authorizer, request.headers(), context).await,
            None => Ok(context),
        },
        Err(error) => Err(error),
    };
    let context = match context {
        Ok(context) => context,
        Err(error) => {
            state.metrics.record(error.status(), started);
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

/// The context with its caller verified, or the refusal.
async fn authorize(
    authorizer: &Authorizer,
    headers: &HeaderMap,
    mut context: RuntimeContext,
) -> Result<RuntimeContext, InvocationError> {
    let token =
        bearer_token(headers).ok_or(InvocationError::Unauthorized(TokenRejection::Missing))?;
    let caller = authorizer
        .verify(&token)
        .await
        .map_err(InvocationError::Unauthorized)?;
    if let Some(named) = &context.user_id
        && named != caller.user()
    {
        return Err(InvocationError::Forbidden(
            "the runtime user id header names another user than the verified token".into(),
        ));
    }
    context.user_id = Some(caller.user().to_owned());
    context.caller = Some(caller);
    Ok(context)
}
