//! Admission: at most the configured number of invocations are served at once — one more is
//! refused at once with 503 `Server busy` rather than queued without bound — and each one
//! admitted keeps `/ping` at `HealthyBusy`. Both are held until the answer is complete: for a
//! streamed answer, until its last event is sent or the client goes away.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::contract::health::{BusyGuard, Health};
use crate::contract::invocation::{Answer, Invocation};
use crate::entrypoint::Output;

use super::stage::{Next, Stage};
use crate::error::InvocationError;

/// Admits invocations against the in-flight cap and tracks them as busy work.
#[derive(Clone)]
pub(crate) struct Admit {
    in_flight: Arc<Semaphore>,
    health: Health,
}

impl Admit {
    pub(crate) fn new(in_flight: Arc<Semaphore>, health: Health) -> Self {
        Self { in_flight, health }
    }
}

impl Stage for Admit {
    fn run(&self, invocation: Invocation, next: Next) -> BoxFuture<'static, Answer> {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            return std::future::ready(Err(InvocationError::ServerBusy {
                details: "the server is serving as many invocations as it may; retry shortly"
                    .into(),
                retry_after_secs: 1,
            }))
            .boxed();
        };
        let busy = self.health.track();
        next(invocation)
            .map(move |answer| answer.map(|output| hold_until_done(output, (busy, permit))))
            .boxed()
    }
}

/// A streamed answer keeps the invocation admitted and busy until the stream ends or is dropped.
fn hold_until_done(output: Output, held: (BusyGuard, OwnedSemaphorePermit)) -> Output {
    match output {
        Output::Stream(items) => Output::Stream(
            items
                .map(move |item| {
                    let _held = &held;
                    item
                })
                .boxed(),
        ),
        other => other,
    }
}
