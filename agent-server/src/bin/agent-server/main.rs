//! `agent-server`: the tutorial agent, or an agent file's, behind the AgentCore Runtime contract.

mod agent_source;
mod config;
mod logging;
mod resident;
mod startup;
mod store_spec;

use agent_server::shutdown_signal;
use anyhow::Context;
use clap::Parser;

use crate::agent_source::AgentSource;
use crate::config::ServerConfig;

/// mimalloc instead of the system allocator: a request allocates and frees many small buffers on
/// two threads, where glibc's malloc spent about a third of the server's CPU per Bedrock call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ServerConfig::parse();
    // Held to the end of `main`: dropping it writes out the log lines still queued.
    let (telemetry, _log_writer) = logging::init_logging(config.log_format)?;
    let source = AgentSource::from_config(&config)?;
    let edge = config.edge_config(startup::raise_descriptor_limit());
    let model =
        (config.model(source.model_id(&config)).await).context("loading the replay recordings")?;
    let choice = config.store_choice();
    let (store, store_memory) =
        (config.session_store(&choice.spec).await).context("opening the session store")?;
    let recall = (config
        .long_term_memory(source.long_term_memory(), store_memory.as_ref())
        .await)
        .context("configuring long-term memory")?;
    let (model_name, store_name) = (model.to_string(), store.to_string());
    let recall_name = recall
        .as_ref()
        .map_or_else(|| "off".to_owned(), ToString::to_string);
    let built = source.build(&config, model, store.clone(), recall).await?;
    let app = startup::configure(built.app, &config, edge, telemetry.as_ref(), store).await?;
    let address = format!("{}:{}", config.host, config.port);
    let listener = (tokio::net::TcpListener::bind(&address).await)
        .with_context(|| format!("binding {address}"))?;
    let running = startup::Running {
        address: listener.local_addr()?,
        agent: source.name(&config),
        model: model_name,
        store: store_name,
        choice: &choice,
        recall: recall_name,
        mcp_servers: built.mcp_servers.len(),
        edge,
        body_budget: app.body_budget(),
        telemetry: telemetry.as_ref(),
    };
    startup::log_listening(&config, &running);
    app.serve(listener, shutdown_signal())
        .await
        .context("serving")?;
    built.mcp_servers.close().await;
    tracing::info!("agent-server stopped");
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    Ok(())
}
