//! A loopback port serving an axum router that a test can stop — the port closed and every open
//! connection dropped — and serve again on the same port: a service that goes away and comes
//! back, for the stand-ins whose clients must ride out an outage.

use agent_core::sync::lock;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// `router` on a port of its own, until stopped or dropped.
pub(crate) struct RestartablePort {
    address: SocketAddr,
    router: Router,
    serving: Mutex<Option<JoinHandle<()>>>,
}

impl RestartablePort {
    /// Serves `router` on an ephemeral loopback port.
    pub(crate) async fn serve(router: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding loopback");
        let port = Self {
            address: listener.local_addr().expect("a bound address"),
            router,
            serving: Mutex::new(None),
        };
        port.accept_on(listener);
        port
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Closes the port and drops every open connection.
    pub(crate) fn stop(&self) {
        if let Some(serving) = self.serving().take() {
            serving.abort();
        }
    }

    /// Serves again on the same port.
    pub(crate) async fn resume(&self) {
        self.stop();
        let listener = TcpListener::bind(self.address)
            .await
            .expect("rebinding the port");
        self.accept_on(listener);
    }

    /// Accepts connections on `listener`, each served on a task of the accepting task's own set,
    /// so aborting that one task drops them all (`axum::serve` would leave them running).
    fn accept_on(&self, listener: TcpListener) {
        let router = self.router.clone();
        let accepting = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let service = TowerToHyperService::new(router.clone());
                connections.spawn(async move {
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        *self.serving() = Some(accepting);
    }

    fn serving(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        lock(&self.serving)
    }
}

impl Drop for RestartablePort {
    fn drop(&mut self) {
        self.stop();
    }
}
