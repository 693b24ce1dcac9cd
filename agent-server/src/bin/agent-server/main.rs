//! `agent-server`: the tutorial agent, or an agent file's, behind the AgentCore Runtime contract.

use std::io::{BufWriter, IsTerminal};
use std::sync::Arc;

use agent_core::Recall;

mod config;
mod resident;

use agent_server::agent_file::AgentFile;
use agent_server::auth::Authorizer;
use agent_server::mcp_servers::McpServers;
use agent_server::observability::Telemetry;
use agent_server::tutorial::{TutorialEntrypoint, tutorial_agent_builder};
use agent_server::{AgentCoreApp, AgentEntrypoint, shutdown_signal};

use crate::config::{LogFormat, ServerConfig};
use anyhow::Context;
use clap::Parser;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// mimalloc instead of the system allocator: a request allocates and frees many small buffers on
/// two threads, where glibc's malloc spent about a third of the server's CPU per Bedrock call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Log lines queued for the writer thread at most; a full queue makes the logging thread wait.
/// The queue is allocated whole at start-up: the default, 128,000 lines, held 5 MiB for good.
const LOG_QUEUE_LINES: usize = 8_192;

/// How much the log writer gathers before one `write` to stderr, at most.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ServerConfig::parse();
    // Held to the end of `main`: dropping it writes out the log lines still queued.
    let (telemetry, _log_writer) = init_logging(config.log_format)?;

    let agent_file = config.agent.as_deref().map(AgentFile::load).transpose()?;
    let descriptors = raise_descriptor_limit();
    let edge = config.edge_config(descriptors);
    let model_id = agent_file
        .as_ref()
        .and_then(|file| file.model_id.as_deref())
        .unwrap_or(&config.model_id);
    let model = config
        .model(model_id)
        .await
        .context("loading the replay recordings")?;
    let model_name = model.describe();
    let agent_config = config.agent_config();
    let sessions = config.session_config();
    let (store, store_memory) = config
        .session_store()
        .await
        .context("opening the session store")?;
    let (_, store_reason) = config.store_choice();
    let store_name = store.describe();
    let observed = store.clone();
    let recall = config
        .long_term_memory(
            agent_file
                .as_ref()
                .and_then(|file| file.long_term_memory.as_ref()),
            store_memory.as_ref(),
        )
        .await
        .context("configuring long-term memory")?;
    let recall_name = recall
        .as_ref()
        .map_or_else(|| "off".to_owned(), |recall| recall.describe());
    let mcp_servers = match &agent_file {
        Some(file) => McpServers::connect(&file.mcp_servers)
            .await
            .map_err(anyhow::Error::msg)
            .context("connecting the agent file's MCP servers")?,
        None => McpServers::default(),
    };
    let builder = match &agent_file {
        Some(file) => mcp_servers
            .add_tools(
                file.agent_builder(model, config.clock(), agent_config),
                file.tool_names(),
            )
            .map_err(anyhow::Error::msg)
            .context("offering the MCP servers' tools")?,
        None => tutorial_agent_builder(model, config.clock(), agent_config),
    };
    let agent = match recall {
        Some(recall) => builder.recall(Arc::new(recall)),
        None => builder,
    }
    .build();
    let app = match &agent_file {
        Some(_) => AgentCoreApp::new(AgentEntrypoint::new(agent, store)),
        None => AgentCoreApp::new(TutorialEntrypoint::tutorial(agent, store)),
    };
    let agent_name = config
        .agent
        .as_ref()
        .map_or_else(|| "tutorial".to_owned(), |path| path.display().to_string());
    let app = app
        .with_max_body_bytes(config.max_body_bytes)
        .with_body_budget(
            config
                .max_body_budget_bytes
                .unwrap_or_else(agent_server::default_body_budget),
        )
        .with_max_in_flight(config.max_in_flight)
        .with_edge(edge);
    let auth = config.auth();
    let app = match &auth {
        Some(auth) => {
            let authorizer = Authorizer::discover(auth.clone())
                .await
                .with_context(|| format!("inbound auth from {}", auth.discovery_url()))?;
            app.with_auth(authorizer)
        }
        None => app,
    };
    let app = match &telemetry {
        Some(telemetry) => {
            let served = app.clone();
            telemetry.observe(move || served.in_flight(), observed);
            if telemetry.exports_traces() {
                app.with_trace_propagation()
            } else {
                app
            }
        }
        None => app,
    };

    let address = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("binding {address}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        agent = %agent_name,
        model = %model_name,
        max_body_bytes = config.max_body_bytes,
        body_budget_bytes = app.body_budget(),
        session_store = %store_name,
        session_store_reason = store_reason,
        long_term_memory = %recall_name,
        mcp_servers = mcp_servers.len(),
        auth = auth.as_ref().map_or("off", |auth| auth.discovery_url()),
        max_in_flight = config.max_in_flight,
        max_connections = edge.max_connections,
        header_timeout_secs = edge.header_timeout.as_secs(),
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
        telemetry = %telemetry.as_ref().map_or("off", Telemetry::describe),
        "agent-server listening"
    );
    app.serve(listener, shutdown_signal())
        .await
        .context("serving")?;
    mcp_servers.close().await;
    tracing::info!("agent-server stopped");
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    Ok(())
}

/// Raises the soft descriptor limit to the hard one, so that the header timeout and the
/// connection cap — not running out of descriptors — decide what happens to idle connections.
/// Returns the limit in force.
fn raise_descriptor_limit() -> u64 {
    use rlimit::Resource;
    let before = Resource::NOFILE.get().unwrap_or((1024, 1024));
    let soft = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(before.0);
    tracing::info!(
        soft_before = before.0,
        soft,
        hard = before.1,
        "descriptor limit"
    );
    soft
}

/// Logs to stderr in `format`, filtered by `RUST_LOG`, and — when the environment names an OTLP
/// endpoint — installs the providers that export traces and metrics to it.
///
/// Lines are formatted on the thread that logs them and written by one writer thread, which
/// drains every line queued before it writes them out together: a container's stderr is a
/// pipe, and a `write` and a reader wake-up per line on the invocation threads cost the binary
/// a good part of its throughput (`cargo bench … -- logging`). No line is dropped: when the
/// queue is full, the logging thread waits, as it would on a full pipe. The returned guard
/// writes out what is queued when it is dropped; a process killed outright loses only the
/// lines of its last moment that were still queued.
fn init_logging(format: LogFormat) -> anyhow::Result<(Option<Telemetry>, WorkerGuard)> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (stderr, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .finish(BufWriter::with_capacity(
            LOG_BUFFER_BYTES,
            std::io::stderr(),
        ));
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(stderr)
            .boxed(),
        LogFormat::Json => agent_server::observability::json_layer(stderr).boxed(),
    };
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .init();
    // After the log, so what the OpenTelemetry SDK reports of itself is logged.
    let telemetry = Telemetry::from_env()?;
    if let Some(telemetry) = &telemetry {
        telemetry.install();
    }
    Ok((telemetry, guard))
}
