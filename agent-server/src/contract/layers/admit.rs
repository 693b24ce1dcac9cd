//! Admission: at most the configured number of invocations are served at once — one more is
//! refused at once with 503 `Server busy` rather than queued without bound — and each one
//! admitted keeps `/ping` at `HealthyBusy`. Both are held until the answer is complete: for a
//! streamed answer, until its last event is sent or the client goes away.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::contract::health::{BusyGuard, Health};
use crate::contract::invocation::{Answer, Invocation};
use crate::entrypoint::Output;
use crate::error::InvocationError;

/// Admits invocations against the in-flight cap and tracks them as busy work.
#[derive(Clone)]
pub(crate) struct AdmitLayer {
    in_flight: Arc<Semaphore>,
    health: Health,
}

impl AdmitLayer {
    pub(crate) fn new(in_flight: Arc<Semaphore>, health: Health) -> Self {
        Self { in_flight, health }
    }
}

impl<S> tower::Layer<S> for AdmitLayer {
    type Service = Admit<S>;

    fn layer(&self, inner: S) -> Admit<S> {
        Admit {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AdmitLayer`] makes.
#[derive(Clone)]
pub(crate) struct Admit<S> {
    inner: S,
    layer: AdmitLayer,
}

impl<S> tower::Service<Invocation> for Admit<S>
where
    S: tower::Service<Invocation, Response = Answer, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Answer;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Answer, Infallible>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, invocation: Invocation) -> Self::Future {
        let Ok(permit) = self.layer.in_flight.clone().try_acquire_owned() else {
            return Box::pin(std::future::ready(Ok(Err(InvocationError::ServerBusy {
                details: "the server is serving as many invocations as it may; retry shortly"
                    .into(),
                retry_after_secs: 1,
            }))));
        };
        let busy = self.layer.health.track();
        let answer = self.inner.call(invocation);
        Box::pin(async move {
            let Ok(answer) = answer.await;
            Ok(answer.map(|output| hold_until_done(output, (busy, permit))))
        })
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
