//! An invocation run as a stream: its events and its last value go to the client as they come,
//! through a small bounded channel, so a slow reader holds the invocation back instead of making
//! the server buffer; a client that goes away stops it at once — the invocation is dropped, so
//! its session turn rolls back and the session is free again.

use std::future::Future;

use agent_core::{AgentEvent, AgentEvents, Disconnected};
use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use opentelemetry::context::FutureExt as _;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::Output;
use super::stream_events::event_value;
use crate::error::InvocationError;

/// Events a client has not read yet, at most; beyond, the invocation waits for the client.
const STREAM_BUFFER: usize = 16;

/// Where an invocation's events go on their way to the client.
pub struct EventChannel(mpsc::Sender<Result<Value, InvocationError>>);

#[async_trait]
impl AgentEvents for EventChannel {
    async fn send(&mut self, event: AgentEvent) -> Result<(), Disconnected> {
        self.0
            .send(Ok(event_value(&event)))
            .await
            .map_err(|_| Disconnected)
    }
}

/// Runs the invocation `run` builds on its own task, streaming its events and then its last
/// value (or its error); stops it as soon as the stream is dropped.
pub fn spawn_streamed<F>(run: impl FnOnce(EventChannel) -> F) -> Output
where
    F: Future<Output = Result<Value, InvocationError>> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    let invocation = run(EventChannel(sender.clone()));
    // The task stays in the invocation's spans: its logs name the session, its trace spans are
    // the invocation's children.
    let span = tracing::Span::current();
    let traced = opentelemetry::Context::current();
    tokio::spawn(
        async move {
            tokio::select! {
                last = invocation => {
                    let _ = sender.send(last).await;
                }
                () = sender.closed() => {
                    tracing::info!("the client went away; the invocation was stopped");
                }
            }
        }
        .instrument(span)
        .with_context(traced),
    );
    let items = stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Output::Stream(items.boxed())
}
