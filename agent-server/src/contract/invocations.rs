//! `POST /invocations`: the body and content negotiation are this route's; the invocation itself
//! goes through the shared pipeline.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tower::ServiceExt;

use super::invocation::{Body, Invocation, Route, RouteState};
use super::response::{accepts_event_stream, answer_response};
use crate::context::RuntimeContext;
use crate::error::InvocationError;

pub(super) async fn invoke(
    State(state): State<RouteState>,
    Extension(context): Extension<RuntimeContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let streaming = accepts_event_stream(&headers);
    let body = body.map_err(|rejection| read_error(&rejection, state.max_body_bytes));
    let invocation = Invocation {
        route: Route::Invocations,
        context,
        headers,
        body: Body::Http(body),
        streaming,
    };
    match state.pipeline.oneshot(invocation).await {
        Ok(answer) => answer_response(answer),
        Err(never) => match never {},
    }
}

/// Why a body could not be read: over the limit (413), or cut off or unreadable (400).
fn read_error(rejection: &BytesRejection, limit: usize) -> InvocationError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        InvocationError::PayloadTooLarge { limit }
    } else {
        InvocationError::InvalidJson(format!(
            "the body could not be read: {}",
            rejection.body_text()
        ))
    }
}
