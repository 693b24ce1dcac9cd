//! What start-up does around the agent: the descriptor limit, the app's limits, inbound auth
//! and telemetry, and the one line that says what the server runs with.

use std::net::SocketAddr;
use std::sync::Arc;

use agent_core::session::SessionStore;
use agent_server::auth::Authorizer;
use agent_server::observability::Telemetry;
use agent_server::{AgentCoreApp, EdgeConfig};
use anyhow::Context;

use crate::config::ServerConfig;
use crate::store_spec::StoreChoice;

/// Raises the soft descriptor limit to the hard one, so that the header timeout and the
/// connection cap — not running out of descriptors — decide what happens to idle connections.
/// Returns the limit in force.
pub(crate) fn raise_descriptor_limit() -> u64 {
    use rlimit::Resource;
    let before = Resource::NOFILE.get().unwrap_or((1024, 1024));
    let soft = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(before.0);
    tracing::info!(
        target: "agent_server",
        soft_before = before.0,
        soft,
        hard = before.1,
        "descriptor limit"
    );
    soft
}

/// `app` with the configured limits and edge, inbound auth when configured (the provider read
/// now: one that cannot be read stops start-up, naming it), and telemetry when installed.
pub(crate) async fn configure(
    app: AgentCoreApp,
    config: &ServerConfig,
    edge: EdgeConfig,
    telemetry: Option<&Telemetry>,
    store: Arc<dyn SessionStore>,
) -> anyhow::Result<AgentCoreApp> {
    let mut app = app
        .with_max_body_bytes(config.max_body_bytes)
        .with_body_budget(
            config
                .max_body_budget_bytes
                .unwrap_or_else(agent_server::default_body_budget),
        )
        .with_max_in_flight(config.max_in_flight)
        .with_edge(edge);
    if let Some(auth) = config.auth() {
        let authorizer = Authorizer::discover(auth.clone())
            .await
            .with_context(|| format!("inbound auth from {}", auth.discovery_url()))?;
        app = app.with_auth(authorizer);
    }
    if let Some(telemetry) = telemetry {
        let served = app.clone();
        telemetry.observe(move || served.in_flight(), store);
        if telemetry.exports_traces() {
            app = app.with_trace_propagation();
        }
    }
    Ok(app)
}

/// What the start-up line reports beside the configuration itself.
pub(crate) struct Running<'a> {
    pub(crate) address: SocketAddr,
    pub(crate) agent: String,
    pub(crate) model: String,
    pub(crate) store: String,
    pub(crate) choice: &'a StoreChoice,
    pub(crate) recall: String,
    pub(crate) mcp_servers: usize,
    pub(crate) edge: EdgeConfig,
    pub(crate) body_budget: usize,
    pub(crate) telemetry: Option<&'a Telemetry>,
}

/// The start-up line: every value in force, so a log shows what the server ran with.
pub(crate) fn log_listening(config: &ServerConfig, running: &Running<'_>) {
    let agent_config = config.agent_config();
    let sessions = config.session_config();
    // The binary's own logger, as the line has always been logged, whichever module writes it.
    tracing::info!(
        target: "agent_server",
        address = %running.address,
        agent = %running.agent,
        model = %running.model,
        max_body_bytes = config.max_body_bytes,
        body_budget_bytes = running.body_budget,
        session_store = %running.store,
        session_store_reason = running.choice.reason,
        long_term_memory = %running.recall,
        mcp_servers = running.mcp_servers,
        auth = config.auth_discovery_url.as_deref().unwrap_or("off"),
        max_in_flight = config.max_in_flight,
        max_connections = running.edge.max_connections,
        header_timeout_secs = running.edge.header_timeout.as_secs(),
        invocation_timeout_secs = agent_config.invocation_timeout.as_secs(),
        max_sessions = sessions.max_sessions,
        session_max_waiting = sessions.max_waiting,
        session_wait_secs = sessions.max_wait.as_secs(),
        session_max_state_bytes = sessions.max_state_bytes,
        idle_timeout_secs = sessions.idle_timeout.as_secs(),
        max_lifetime_secs = sessions.max_lifetime.as_secs(),
        model_timeout_secs = agent_config.model_timeout.as_secs(),
        retry_attempts = agent_config.retry.max_attempts,
        window_messages = agent_config.window.max_messages,
        telemetry = %running.telemetry.map_or("off", Telemetry::describe),
        "agent-server listening"
    );
}
