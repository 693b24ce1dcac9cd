//! The one shape every invocation layer has, written once: a layer is a [`Stage`] — given an
//! invocation and the rest of the pipeline, it answers — and [`StageLayer`] makes any stage a
//! tower layer over the pipeline, with the service plumbing here and not in each layer.

use std::convert::Infallible;
use std::task::{Context, Poll};

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::contract::invocation::{Answer, Invocation};

/// The rest of the pipeline, for a stage to call once (or not at all, to answer itself).
pub(crate) type Next = Box<dyn FnOnce(Invocation) -> BoxFuture<'static, Answer> + Send>;

/// One layer's work around the rest of the pipeline.
pub(crate) trait Stage: Clone + Send + Sync + 'static {
    /// Answers `invocation`, calling `next` for the rest of the pipeline's answer.
    fn run(&self, invocation: Invocation, next: Next) -> BoxFuture<'static, Answer>;
}

/// A [`Stage`] as a tower layer.
#[derive(Clone)]
pub(crate) struct StageLayer<T>(pub(crate) T);

impl<T: Stage, S> tower::Layer<S> for StageLayer<T> {
    type Service = Staged<T, S>;

    fn layer(&self, inner: S) -> Staged<T, S> {
        Staged {
            stage: self.0.clone(),
            inner,
        }
    }
}

/// The service a [`StageLayer`] makes: its stage around `inner`.
#[derive(Clone)]
pub(crate) struct Staged<T, S> {
    stage: T,
    inner: S,
}

impl<T, S> tower::Service<Invocation> for Staged<T, S>
where
    T: Stage,
    S: tower::Service<Invocation, Response = Answer, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Answer;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Answer, Infallible>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, invocation: Invocation) -> Self::Future {
        // The ready service goes to `next`; a clone stays for the next call (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let next: Next = Box::new(move |invocation| {
            inner
                .call(invocation)
                .map(|answer| match answer {
                    Ok(answer) => answer,
                    Err(never) => match never {},
                })
                .boxed()
        });
        self.stage.run(invocation, next).map(Ok).boxed()
    }
}
