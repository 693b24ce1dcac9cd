//! The whole stack in one process, offline: wiremock playing Bedrock from recordings, the real
//! Bedrock client (AWS SDK, placeholder credentials) pointed at it, and the real agent-server on
//! an ephemeral loopback port, driven over HTTP.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use agent_core::bedrock::{BedrockModel, DEFAULT_MODEL_ID};
use agent_core::replay::RecordingSet;
use agent_core::session::{MemorySessionStore, SessionConfig};
use agent_core::{AgentConfig, Model};
use agent_server::AgentCoreApp;
use agent_server::tutorial::TutorialEntrypoint;
use agent_testkit::LocalServer;
use agent_tools::Clock;
use anyhow::Context;

use crate::report::Report;
use crate::runner::{Transport, drive};
use crate::script::Script;
use crate::stand_in::BedrockStandIn;

/// The tutorial server as `cargo run -p agent-server` builds it, around `model`.
pub fn tutorial_app(model: Arc<dyn Model>, clock: Clock) -> AgentCoreApp {
    AgentCoreApp::new(TutorialEntrypoint::with_model(
        model,
        clock,
        AgentConfig::default(),
        Arc::new(MemorySessionStore::new(SessionConfig::default())),
    ))
}

/// The clock a script asks for.
pub fn clock_of(script: &Script) -> anyhow::Result<Clock> {
    match &script.fixed_time {
        Some(time) => Clock::fixed_at(time)
            .with_context(|| format!("fixed_time `{time}` is not `%Y-%m-%d %H:%M:%S`")),
        None => Ok(Clock::Local),
    }
}

/// Replays the scenario in `scenario_dir` against the tutorial server, one JSON answer a step.
pub async fn run_local(scenario_dir: &Path) -> anyhow::Result<Report> {
    run_local_with(scenario_dir, Transport::Json, tutorial_app).await
}

/// Replays the scenario over `transport` against the server that `build` makes from the model
/// and clock.
pub async fn run_local_with(
    scenario_dir: &Path,
    transport: Transport,
    build: impl FnOnce(Arc<dyn Model>, Clock) -> AgentCoreApp,
) -> anyhow::Result<Report> {
    let script = Script::load(scenario_dir)?;
    let recordings = RecordingSet::load(scenario_dir)?;
    let stand_in = BedrockStandIn::start(recordings).await;
    let model = BedrockModel::for_local_endpoint(&stand_in.uri(), DEFAULT_MODEL_ID).await;
    let app = build(Arc::new(model), clock_of(&script)?);
    let steps = with_server(app, |address| {
        let script = script.clone();
        async move { drive(&format!("http://{address}"), &script, transport, |_, _| {}).await }
    })
    .await?;
    Ok(Report::new(
        &script,
        steps,
        Some(stand_in.requests().await),
        stand_in.unmatched(),
    ))
}

/// Serves `app` on 127.0.0.1 while `work` runs against its address, then shuts it down.
pub async fn with_server<F, Fut, T>(app: AgentCoreApp, work: F) -> anyhow::Result<T>
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let server = LocalServer::start(app)
        .await
        .context("serving on a loopback port")?;
    let outcome = work(server.address).await;
    server.shut_down().await.context("serving")?;
    outcome
}
