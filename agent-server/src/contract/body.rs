//! The request body, received within a memory budget shared by every body in flight: what
//! bounds the bytes of all bodies being received and parsed as a whole, so that many large
//! bodies at once get 503 `Server busy` instead of the process being killed for its memory.
//!
//! A body with a `Content-Length` is charged to the budget before any of it is read, so it is
//! refused at once when it would not fit; a body without one is charged frame by frame as it
//! arrives. A refused body's bytes are read and dropped, never held, so that the client — still
//! sending — gets the answer rather than a reset connection.
//!
//! Each frame is copied into one buffer as it arrives and then freed — with a `Content-Length`
//! the buffer is allocated once, at its size — so the body is held once, never as frames and a
//! concatenated copy besides. Parsing builds the payload beside it, so a body is charged twice
//! its size: what it costs while its payload is parsed. The charge is given back once the payload
//! is parsed and the body dropped.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use bytes::BytesMut;
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::InvocationError;

/// The budget for the bytes of all request bodies in flight; cheap to clone.
#[derive(Clone)]
pub(crate) struct BodyBudget {
    available: Arc<Semaphore>,
    budget: usize,
    max_body_bytes: usize,
}

/// A body received within the budget, holding its charge until parsed.
pub(crate) struct ReceivedBody {
    bytes: BytesMut,
    /// Its share of the budget, given back when the body is dropped.
    _charge: Option<OwnedSemaphorePermit>,
}

/// What holding a body of `bytes` and parsing it costs: the body, and the payload built from it.
pub(crate) fn cost(bytes: usize) -> usize {
    bytes.saturating_mul(2)
}

impl BodyBudget {
    /// A budget of `budget` bytes for bodies of at most `max_body_bytes` each.
    pub(crate) fn new(budget: usize, max_body_bytes: usize) -> Self {
        Self {
            available: Arc::new(Semaphore::new(budget.min(Semaphore::MAX_PERMITS))),
            budget,
            max_body_bytes,
        }
    }

    /// The largest body accepted: the per-body limit, or half the budget when that is less
    /// (a body is charged twice its size).
    pub(crate) fn limit(&self) -> usize {
        self.max_body_bytes.min(self.budget / 2)
    }

    /// Receives `body`, charging it to the budget: 413 over the per-body limit (or the whole
    /// budget, which it could never fit), 503 when the budget has no room for it now.
    pub(crate) async fn receive(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<ReceivedBody, InvocationError> {
        let limit = self.limit();
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let mut body = body;
        // The charge comes first: nothing is allocated for a body the budget refuses.
        let mut charge = match declared {
            Some(length) if length > limit => {
                return Err(InvocationError::PayloadTooLarge { limit });
            }
            Some(length) => match self.charge(cost(length)) {
                Ok(charge) => Some(charge),
                Err(refusal) => {
                    discard(&mut body, length).await;
                    return Err(refusal);
                }
            },
            None => None,
        };
        let mut bytes = BytesMut::with_capacity(declared.unwrap_or(0));
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| {
                InvocationError::InvalidJson(format!("the body could not be read: {error}"))
            })?;
            let Ok(data) = frame.into_data() else {
                continue; // Trailers carry no payload.
            };
            total += data.len();
            if total > limit {
                return Err(InvocationError::PayloadTooLarge { limit });
            }
            match declared {
                Some(length) if total > length => {
                    return Err(InvocationError::InvalidJson(
                        "the body is longer than its Content-Length".into(),
                    ));
                }
                Some(_) => {}
                None => match (self.charge(cost(data.len())), &mut charge) {
                    (Ok(more), Some(charge)) => charge.merge(more),
                    (Ok(more), None) => charge = Some(more),
                    (Err(refusal), _) => {
                        drop((bytes, charge));
                        discard(&mut body, limit - total).await;
                        return Err(refusal);
                    }
                },
            }
            bytes.extend_from_slice(&data);
        }
        Ok(ReceivedBody {
            bytes,
            _charge: charge,
        })
    }

    /// Takes `bytes` of the budget now, or refuses.
    pub(crate) fn charge(&self, bytes: usize) -> Result<OwnedSemaphorePermit, InvocationError> {
        let permits = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.available
            .clone()
            .try_acquire_many_owned(permits)
            .map_err(|_| InvocationError::ServerBusy {
                details: format!(
                    "the request bodies being received already take the memory budget of {} bytes; retry shortly",
                    self.budget
                ),
                retry_after_secs: 1,
            })
    }
}

/// How long a refused body is read and dropped for, at most: a client that stops sending is not
/// waited on longer; its connection closes on the answer.
const DISCARD_FOR: Duration = Duration::from_secs(10);

/// Reads and drops up to `bytes` more of `body`, so the client can finish sending and read the
/// answer; a longer or slower body is left for the connection to close on.
async fn discard(body: &mut Body, bytes: usize) {
    let drain = async {
        let mut left = bytes;
        while left > 0 {
            match body.frame().await {
                Some(Ok(frame)) => {
                    let read = frame.data_ref().map_or(0, Bytes::len);
                    left = left.saturating_sub(read);
                }
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_FOR, drain).await;
}

impl ReceivedBody {
    /// The body as JSON whatever the Content-Type says, as the reference runtime reads it; the
    /// body's memory and its charge are given back once it is parsed.
    pub(crate) fn parse(self) -> Result<Value, InvocationError> {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(InvocationError::InvalidJson("the body is empty".into()));
        }
        serde_json::from_slice(&self.bytes)
            .map_err(|error| InvocationError::InvalidJson(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn chunked(frames: &[&'static str]) -> Body {
        let frames: Vec<Result<Bytes, std::io::Error>> = frames
            .iter()
            .map(|frame| Ok(Bytes::from_static(frame.as_bytes())))
            .collect();
        Body::from_stream(stream::iter(frames))
    }

    fn declaring(length: usize) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, length.into());
        headers
    }

    #[tokio::test(start_paused = true)]
    async fn a_declared_body_past_the_room_left_is_refused_before_it_is_read() {
        let budget = BodyBudget::new(200, 1_000);
        let payload = format!("{{\"a\": \"{}\"}}", "x".repeat(52));
        let first = budget
            .receive(&declaring(payload.len()), Body::from(payload.clone()))
            .await
            .unwrap();
        // A body that never sends a byte: refused without holding any of it, and not waited on
        // past the discard bound (tokio's paused clock runs straight to it).
        let never = Body::from_stream(stream::pending::<Result<Bytes, std::io::Error>>());
        let refused = budget.receive(&declaring(60), never).await.err().unwrap();
        assert_eq!(refused.status().as_u16(), 503);
        assert_eq!(refused.retry_after_secs(), Some(1));
        assert!(
            refused.to_string().contains("memory budget of 200 bytes"),
            "{refused}"
        );
        assert_eq!(first.parse().unwrap()["a"], "x".repeat(52));
        // Parsed, its charge is back.
        let again = budget
            .receive(&declaring(payload.len()), Body::from(payload))
            .await;
        assert!(again.is_ok());
    }

    #[tokio::test]
    async fn a_chunked_body_is_charged_frame_by_frame_and_parsed_across_frames() {
        let budget = BodyBudget::new(32, 1_000);
        let body = budget
            .receive(&HeaderMap::new(), chunked(&["{\"a\"", ": [1,", " 2]}"]))
            .await
            .unwrap();
        let refused = budget
            .receive(&HeaderMap::new(), chunked(&["{}   "]))
            .await
            .err()
            .unwrap();
        assert_eq!(refused.status().as_u16(), 503, "{refused}");
        assert_eq!(body.parse().unwrap(), serde_json::json!({"a": [1, 2]}));
    }

    #[tokio::test]
    async fn bodies_over_the_limit_or_the_whole_budget_are_too_large() {
        let budget = BodyBudget::new(1_000, 10);
        let error = budget
            .receive(&declaring(11), Body::from("x".repeat(11)))
            .await;
        assert_eq!(error.err().unwrap().status().as_u16(), 413);
        let error = budget
            .receive(&HeaderMap::new(), chunked(&["123456", "7890", "1"]))
            .await;
        assert_eq!(error.err().unwrap().status().as_u16(), 413);
        let small_budget = BodyBudget::new(10, 10);
        let error = small_budget
            .receive(&declaring(8), Body::from("x".repeat(8)))
            .await;
        assert_eq!(
            error.err().unwrap().status().as_u16(),
            413,
            "it could never fit"
        );
    }
}
