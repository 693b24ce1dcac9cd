//! Panics turned into answers. An entrypoint that panics answers its invocation with 500
//! `Internal error` — over HTTP, and as an error event on `/ws`, whose socket stays open — rather
//! than a reset connection; whatever else a route runs is covered by tower-http's layer.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use futures::future::BoxFuture;
use tower_http::catch_panic::CatchPanicLayer as HttpCatchPanicLayer;

use crate::contract::invocation::{Answer, Invocation};

use super::stage::{Next, Stage};
use crate::error::InvocationError;

/// tower-http's catch-panic layer answering with the contract's JSON 500.
pub(crate) fn catch_panic() -> HttpCatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    HttpCatchPanicLayer::custom(panic_response)
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    panicked(panic.as_ref()).into_response()
}

/// The error a panic answers with, naming its message when it has one.
fn panicked(panic: &(dyn Any + Send)) -> InvocationError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    tracing::error!(panic = %message, "an invocation panicked");
    InvocationError::Internal(format!("the invocation panicked: {message}"))
}

/// Catches a panic of the rest of the pipeline into a 500 answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CatchPanic;

impl Stage for CatchPanic {
    fn run(&self, invocation: Invocation, next: Next) -> BoxFuture<'static, Answer> {
        let answer = std::panic::catch_unwind(AssertUnwindSafe(|| next(invocation)));
        async move {
            match answer {
                Ok(answer) => AssertUnwindSafe(answer)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| Err(panicked(panic.as_ref()))),
                Err(panic) => Err(panicked(panic.as_ref())),
            }
        }
        .boxed()
    }
}
