//! How an answer goes out over HTTP: content negotiation (`Accept: text/event-stream` takes the
//! entrypoint's streaming form), one JSON value as the whole body, a stream as server-sent
//! events ending with an error event if it fails, an entrypoint's own response as it built it.

use std::convert::Infallible;

use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{BoxStream, StreamExt};
use serde_json::Value;

use super::invocation::Answer;
use crate::entrypoint::Output;
use crate::entrypoint::stream_events::error_value;
use crate::error::InvocationError;

/// True when the client lists `text/event-stream` in `Accept` (the starter toolkit sends
/// `text/event-stream, application/json`).
pub(super) fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("text/event-stream"))
        })
}

/// The HTTP response an answer makes.
pub(super) fn answer_response(answer: Answer) -> Response {
    match answer {
        Ok(Output::Value(value)) => json_response(&value),
        Ok(Output::Stream(items)) => event_stream_response(items),
        Ok(Output::Response(response)) => response,
        Err(error) => error.into_response(),
    }
}

/// Items as server-sent events; an error is sent as one last event, as the reference runtime
/// frames it.
fn event_stream_response(items: BoxStream<'static, Result<Value, InvocationError>>) -> Response {
    let events = items
        .scan(false, |failed, item| {
            if *failed {
                return std::future::ready(None);
            }
            let data = match item {
                Ok(value) => value,
                Err(error) => {
                    *failed = true;
                    tracing::warn!(%error, error_type = error.kind(), "stream failed");
                    error_value(&error)
                }
            };
            std::future::ready(Some(data))
        })
        .map(|data| Ok::<_, Infallible>(Event::default().data(data.to_string())));
    Sse::new(events).into_response()
}

/// `value` as a JSON body, UTF-8 unescaped.
fn json_response(value: &Value) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(error) => {
            InvocationError::Internal(format!("the result could not be serialised: {error}"))
                .into_response()
        }
    }
}
