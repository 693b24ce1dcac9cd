//! The cross-cutting work of every invocation, as layers rather than inside handlers, so that
//! `POST /invocations` and each `/ws` message get the same:
//!
//! - [`runtime_context`]: an HTTP middleware that reads the request's headers into its
//!   `RuntimeContext` (or answers 400) and echoes the session and request ids on the response;
//! - [`Observe`]: the invocation span continuing the caller's trace, the `invocation
//!   finished` line, and the invocation metrics;
//! - [`CatchPanic`]: a panicking entrypoint answered as a 500 instead of a dropped
//!   connection or socket;
//! - [`Admit`]: the in-flight cap (503 `Server busy`) and the busy tracking behind `/ping`,
//!   both held until a streamed answer ends;
//! - [`catch_panic`]: tower-http's catch-panic layer for whatever else a route runs.
//!
//! The invocation layers are `stage::Stage`s, made tower layers by [`StageLayer`].

mod admit;
mod catch_panic;
mod observe;
mod runtime_context;
mod stage;

pub(super) use admit::Admit;
pub(super) use catch_panic::{CatchPanic, catch_panic};
pub(super) use observe::Observe;
pub(super) use runtime_context::{Context, ContextLayerState, runtime_context};
pub(super) use stage::StageLayer;
