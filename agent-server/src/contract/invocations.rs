//! `POST /invocations`: the body (received within the memory budget) and content negotiation are
//! this route's; the invocation itself goes through the shared pipeline.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use tower::ServiceExt;

use super::invocation::{Body, Invocation, Route, RouteState};
use super::layers::Context;
use super::response::{accepts_event_stream, answer_response};

pub(super) async fn invoke(
    State(state): State<RouteState>,
    Context(context): Context,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let streaming = accepts_event_stream(&headers);
    let body = state.bodies.receive(&headers, body).await;
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
