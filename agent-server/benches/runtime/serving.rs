//! Servers for the in-process sections, each on a 2-thread runtime of its own (through
//! `agent_testkit::serve_on_own_runtime`), so the server's CPU is told from the load's.

use std::net::SocketAddr;
use std::sync::Arc;

use agent_core::session::SessionStore;
use agent_server::AgentCoreApp;
use agent_testkit::serve_on_own_runtime;

use crate::instant_model::entrypoint;

/// Starts the tutorial server on its own 2-thread runtime, with the store `sessions` makes
/// there; returns its address.
pub(crate) fn serve_in_background(
    sessions: impl FnOnce() -> Arc<dyn SessionStore> + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<()>) {
    serve_app_in_background(|| AgentCoreApp::new(entrypoint(sessions())))
}

/// Starts the app `build` makes (on the server's runtime) on its own 2-thread runtime; returns
/// its address.
pub(crate) fn serve_app_in_background(
    build: impl FnOnce() -> AgentCoreApp + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<()>) {
    serve_on_own_runtime("server", move |listener| {
        build().serve(listener, std::future::pending())
    })
}
