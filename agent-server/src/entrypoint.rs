//! The agent's entrypoint: what the runtime calls with each payload, like `@app.entrypoint`.

use std::future::Future;

use agent_core::RuntimeContext;
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use crate::error::InvocationError;

/// Handles one invocation: the JSON payload and its runtime context in, a JSON value out.
#[async_trait]
pub trait Entrypoint: Send + Sync + 'static {
    async fn invoke(
        &self,
        payload: Value,
        context: RuntimeContext,
    ) -> Result<Value, InvocationError>;
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
    FnEntrypoint(handler)
}

struct FnEntrypoint<F>(F);

#[async_trait]
impl<F, Fut, T> Entrypoint for FnEntrypoint<F>
where
    F: Fn(Value, RuntimeContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, InvocationError>> + Send + 'static,
    T: Serialize + 'static,
{
    async fn invoke(
        &self,
        payload: Value,
        context: RuntimeContext,
    ) -> Result<Value, InvocationError> {
        let result = (self.0)(payload, context).await?;
        serde_json::to_value(result).map_err(|error| {
            InvocationError::Internal(format!("the result could not be serialised: {error}"))
        })
    }
}
