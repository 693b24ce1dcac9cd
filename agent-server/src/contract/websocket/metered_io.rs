//! A WebSocket connection read through the body budget: every byte read from the client is
//! charged to the same budget as POST bodies, from the moment it arrives — a message being
//! received in many frames counts as it grows, not once it is whole — so many large messages at
//! once are refused like many large bodies, instead of the process being killed for its memory.
//!
//! The charge of what has been read since the last whole message is the meter's until that
//! message is handed on ([`Meter::take_charge`]): a text message carries it into the pipeline
//! and gives it back once parsed; anything else (a ping, a binary frame) gives it back at once.
//! A read the budget has no room for fails, and the socket is closed with 1013 (try again later).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use agent_core::sync::lock;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

use crate::contract::body::{BodyBudget, cost};

/// What a connection's reads have charged to the budget.
pub(super) struct Meter {
    budget: BodyBudget,
    held: Mutex<Option<OwnedSemaphorePermit>>,
    refused: AtomicBool,
}

impl Meter {
    pub(super) fn new(budget: BodyBudget) -> Arc<Self> {
        Arc::new(Self {
            budget,
            held: Mutex::new(None),
            refused: AtomicBool::new(false),
        })
    }

    /// The charge of everything read so far, handed on with the message it was read for.
    pub(super) fn take_charge(&self) -> Option<OwnedSemaphorePermit> {
        lock(&self.held).take()
    }

    /// True once a read found no room in the budget.
    pub(super) fn was_refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    fn charge(&self, bytes: usize) -> io::Result<()> {
        match self.budget.charge(cost(bytes)) {
            Ok(more) => {
                let mut held = lock(&self.held);
                match held.as_mut() {
                    Some(charge) => charge.merge(more),
                    None => *held = Some(more),
                }
                Ok(())
            }
            Err(refusal) => {
                self.refused.store(true, Ordering::Relaxed);
                Err(io::Error::other(refusal.to_string()))
            }
        }
    }
}

/// An upgraded connection whose reads are charged to a [`Meter`].
pub(super) struct MeteredIo<T> {
    io: T,
    meter: Arc<Meter>,
}

impl<T> MeteredIo<T> {
    pub(super) fn new(io: T, meter: Arc<Meter>) -> Self {
        Self { io, meter }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for MeteredIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        if read > 0 {
            self.meter.charge(read)?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for MeteredIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_are_charged_until_taken_and_a_read_past_the_budget_fails() {
        let budget = BodyBudget::new(100, 1_000);
        let meter = Meter::new(budget.clone());
        let (mut client, server) = tokio::io::duplex(64);
        let mut metered = MeteredIo::new(server, meter.clone());
        client.write_all(&[b'x'; 30]).await.unwrap();
        let mut buf = [0u8; 30];
        metered.read_exact(&mut buf).await.unwrap();
        // 30 bytes read cost 60 of 100: a 50-byte body no longer fits.
        assert!(budget.charge(cost(25)).is_err());
        let charge = meter.take_charge().expect("a charge");
        drop(charge);
        assert!(budget.charge(cost(25)).is_ok());
        client.write_all(&[b'y'; 60]).await.unwrap();
        let mut more = [0u8; 60];
        let error = metered.read_exact(&mut more).await.unwrap_err();
        assert!(error.to_string().contains("memory budget"), "{error}");
        assert!(meter.was_refused());
    }
}
