//! What the contract answers outside its routes: 404 naming the routes served, 405 naming the
//! method a route takes — both as the JSON errors every other failure is.

use axum::http::{Method, Uri};

use crate::error::InvocationError;

pub(super) async fn not_found(uri: Uri) -> InvocationError {
    InvocationError::NotFound(format!(
        "no route {}; this runtime serves POST /invocations, GET /ping and GET /ws",
        uri.path()
    ))
}

pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> InvocationError {
    let allowed = if uri.path() == "/ping" { "GET" } else { "POST" };
    InvocationError::MethodNotAllowed(format!(
        "{method} {} is not served; use {allowed}",
        uri.path()
    ))
}
