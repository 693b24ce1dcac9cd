//! The agent's entrypoint: what the runtime calls with each payload, like `@app.entrypoint`.
//!
//! An entrypoint answers with one JSON value, or with a stream of them that the runtime sends
//! as server-sent events while they are produced (the reference's async-generator handlers).

pub(crate) mod agent;
pub(crate) mod stream_events;
pub(crate) mod streamed;

use std::future::Future;

use async_trait::async_trait;
use axum::response::{IntoResponse, Response};
use futures::stream::{BoxStream, Stream, StreamExt};
use serde::Serialize;
use serde_json::Value;

use crate::context::RuntimeContext;
use crate::error::InvocationError;

/// Handles one invocation: the JSON payload and its runtime context in, an [`Output`] out.
#[async_trait]
pub trait Entrypoint: Send + Sync + 'static {
    /// Answers a client that asked for one answer (`application/json`).
    async fn invoke(
        &self,
        payload: Value,
        context: RuntimeContext,
    ) -> Result<Output, InvocationError>;

    /// Answers a client that takes events as they come (`Accept: text/event-stream`, or a
    /// message on `/ws`). By default, the same as [`Entrypoint::invoke`].
    async fn invoke_streaming(
        &self,
        payload: Value,
        context: RuntimeContext,
    ) -> Result<Output, InvocationError> {
        self.invoke(payload, context).await
    }
}

/// What an entrypoint answers.
pub enum Output {
    /// One JSON value: the whole body, `application/json`.
    Value(Value),
    /// JSON values sent one by one as `data: <json>` events, `text/event-stream`. An error ends
    /// the stream with one last event `{"error", "error_type", "message"}`.
    Stream(BoxStream<'static, Result<Value, InvocationError>>),
    /// A response of the entrypoint's own making — status, headers and body as it built them
    /// (the reference's handlers returning a Starlette `Response`). The runtime adds only the
    /// session and request id headers. On `/ws` its body is sent as one text message.
    Response(Response),
}

impl Output {
    /// A response of the entrypoint's own: anything axum can answer with, such as
    /// `(StatusCode::ACCEPTED, [("location", "/jobs/7")], "queued")`.
    pub fn response(response: impl IntoResponse) -> Self {
        Self::Response(response.into_response())
    }

    /// One serialisable value.
    pub fn value(value: impl Serialize) -> Result<Self, InvocationError> {
        to_json(value).map(Self::Value)
    }

    /// A stream of serialisable values.
    pub fn stream<S, T>(items: S) -> Self
    where
        S: Stream<Item = Result<T, InvocationError>> + Send + 'static,
        T: Serialize,
    {
        Self::Stream(items.map(|item| item.and_then(to_json)).boxed())
    }
}

fn to_json(value: impl Serialize) -> Result<Value, InvocationError> {
    serde_json::to_value(value).map_err(|error| {
        InvocationError::Internal(format!("the result could not be serialised: {error}"))
    })
}

/// An entrypoint from an async function returning any serialisable value.
///
/// ```
/// use agent_server::{entrypoint_fn, AgentCoreApp, InvocationError};
///
/// let app = AgentCoreApp::new(entrypoint_fn(|payload, context| async move {
///     let name = payload["name"].as_str().ok_or_else(|| {
///         InvocationError::InvalidPayload("\"name\" must be a string".into())
///     })?;
///     Ok(format!("hello {name}, session {}", context.session_id))
/// }));
/// # let _ = app.router();
/// ```
pub fn entrypoint_fn<F, Fut, T>(handler: F) -> impl Entrypoint
where
    F: Fn(Value, RuntimeContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, InvocationError>> + Send + 'static,
    T: Serialize + 'static,
{
    FnEntrypoint(move |payload, context| {
        let answer = handler(payload, context);
        async move { Output::value(answer.await?) }
    })
}

/// An entrypoint from an async function returning a stream of serialisable values.
///
/// ```
/// use agent_server::{streaming_entrypoint_fn, AgentCoreApp, InvocationError};
/// use futures::stream;
///
/// let app = AgentCoreApp::new(streaming_entrypoint_fn(|payload, _context| async move {
///     let words: Vec<String> = payload["prompt"]
///         .as_str()
///         .unwrap_or_default()
///         .split_whitespace()
///         .map(str::to_owned)
///         .collect();
///     Ok(stream::iter(words.into_iter().map(Ok::<_, InvocationError>)))
/// }));
/// # let _ = app.router();
/// ```
pub fn streaming_entrypoint_fn<F, Fut, S, T>(handler: F) -> impl Entrypoint
where
    F: Fn(Value, RuntimeContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S, InvocationError>> + Send + 'static,
    S: Stream<Item = Result<T, InvocationError>> + Send + 'static,
    T: Serialize + 'static,
{
    FnEntrypoint(move |payload, context| {
        let answer = handler(payload, context);
        async move { Ok(Output::stream(answer.await?)) }
    })
}

struct FnEntrypoint<F>(F);

#[async_trait]
impl<F, Fut> Entrypoint for FnEntrypoint<F>
where
    F: Fn(Value, RuntimeContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Output, InvocationError>> + Send + 'static,
{
    async fn invoke(
        &self,
        payload: Value,
        context: RuntimeContext,
    ) -> Result<Output, InvocationError> {
        (self.0)(payload, context).await
    }
}
