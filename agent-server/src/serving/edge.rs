//! The connection edge: how the server accepts and keeps connections, so that slow or idle
//! clients cannot take it down.
//!
//! - A connection that has not sent a whole request head within the header timeout is closed —
//!   whether it is new (slow-loris) or idle between keep-alive requests.
//! - At most `max_connections` are open; beyond, the server stops accepting and new connections
//!   wait in the listen backlog, so descriptors never run out under it.
//! - An accept error (out of descriptors, a reset before accept) pauses accepting briefly
//!   instead of spinning.
//!
//! Serving is hyper-util's (HTTP/1.1 and HTTP/2, upgrades for `/ws`); graceful shutdown stops
//! accepting and lets the connections in flight finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Default time a client has to send a request head: new, or idle between requests.
pub(crate) const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Descriptors kept free for what the server opens itself (Bedrock, Redis, files, logs).
pub(crate) const RESERVED_DESCRIPTORS: u64 = 256;

/// How the server holds its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeConfig {
    /// Time allowed to send a request head, and to stay idle between requests.
    pub header_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for EdgeConfig {
    /// A 10-second header timeout, and room for 1,024 connections.
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: 1_024,
        }
    }
}

impl EdgeConfig {
    /// The connection cap a descriptor limit leaves room for, `RESERVED_DESCRIPTORS` aside.
    pub fn connections_for(descriptor_limit: u64) -> usize {
        usize::try_from(
            descriptor_limit
                .saturating_sub(RESERVED_DESCRIPTORS)
                .max(64),
        )
        .unwrap_or(usize::MAX)
    }
}

/// Pause after an accept error before accepting again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` until `shutdown` completes, then lets open connections finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    config: EdgeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "accept failed; pausing before accepting again");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        // Streamed answers are many small writes: without TCP_NODELAY each waits for the
        // client's delayed ACK of the one before (about 40 ms on Linux).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set on a connection");
        }
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
