//! One invocation as the pipeline sees it, whichever route brought it: its runtime context, the
//! headers a trace is continued from, its body, and whether the client takes a stream.
//!
//! The [`Pipeline`] is the same tower service for `POST /invocations` and for each message on
//! `/ws`; [`Run`], at its core, parses the payload and calls the entrypoint. The layers around it
//! are in `layers`.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::HeaderMap;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;
use tower::util::BoxCloneSyncService;

use super::body::{BodyBudget, ReceivedBody};
use crate::context::RuntimeContext;
use crate::entrypoint::{Entrypoint, Output};
use crate::error::InvocationError;

/// The invocation pipeline: an [`Invocation`] in, the entrypoint's answer (or why there is
/// none) out. It never fails as a service; failures are answers.
pub(crate) type Pipeline = BoxCloneSyncService<Invocation, Answer, Infallible>;

/// What an invocation comes to: the entrypoint's output, or the error to answer with.
pub(crate) type Answer = Result<Output, InvocationError>;

/// The route an invocation came by, as its span names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `POST /invocations`.
    Invocations,
    /// One message on `GET /ws`.
    WebSocket,
}

impl Route {
    /// The route as `http.route` reports it.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Invocations => "/invocations",
            Self::WebSocket => "/ws",
        }
    }

    /// The server span's name.
    pub(crate) fn span_name(self) -> &'static str {
        match self {
            Self::Invocations => "POST /invocations",
            Self::WebSocket => "GET /ws",
        }
    }
}

/// A payload as it arrived, parsed as JSON only inside the pipeline (within the invocation's
/// span, so a bad one is logged with its session).
pub(crate) enum Body {
    /// A request body within the memory budget, or why it could not be had (over the limit,
    /// no room in the budget, cut off).
    Http(Result<ReceivedBody, InvocationError>),
    /// A WebSocket text message, holding its share of the body budget until parsed.
    Text(String, Option<OwnedSemaphorePermit>),
}

/// One invocation on its way to the entrypoint.
pub(crate) struct Invocation {
    pub(crate) route: Route,
    pub(crate) context: RuntimeContext,
    /// The request's (or the handshake's) headers, for the caller's trace context.
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    /// The client takes events as they come (server-sent events, `/ws`).
    pub(crate) streaming: bool,
}

/// The pipeline's core: parses the payload and calls the entrypoint's plain or streaming form.
#[derive(Clone)]
pub(crate) struct Run {
    entrypoint: Arc<dyn Entrypoint>,
}

impl Run {
    pub(crate) fn new(entrypoint: Arc<dyn Entrypoint>) -> Self {
        Self { entrypoint }
    }
}

impl tower::Service<Invocation> for Run {
    type Response = Answer;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Answer, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, invocation: Invocation) -> Self::Future {
        let entrypoint = self.entrypoint.clone();
        Box::pin(async move {
            let payload = match parse_payload(invocation.body) {
                Ok(payload) => payload,
                Err(error) => return Ok(Err(error)),
            };
            let answer = if invocation.streaming {
                entrypoint
                    .invoke_streaming(payload, invocation.context)
                    .await
            } else {
                entrypoint.invoke(payload, invocation.context).await
            };
            Ok(answer)
        })
    }
}

/// The body as JSON whatever the Content-Type says, as the reference runtime reads it.
fn parse_payload(body: Body) -> Result<Value, InvocationError> {
    match body {
        Body::Http(received) => received?.parse(),
        Body::Text(text, _charge) => serde_json::from_str(&text)
            .map_err(|error| InvocationError::InvalidJson(error.to_string())),
    }
}

/// What the invocation routes share.
#[derive(Clone)]
pub(crate) struct RouteState {
    pub(crate) pipeline: Pipeline,
    pub(crate) bodies: BodyBudget,
}
