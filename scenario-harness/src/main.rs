//! `scenario-harness`: runs the tutorial's three sessions offline and shows what happened.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use agent_core::bedrock::{BedrockModel, DEFAULT_MODEL_ID};
use clap::Parser;
use scenario_harness::report::Ids;
use scenario_harness::runner::Transport;
use scenario_harness::{
    Report, Script, record, run_local_with, runner, tutorial_app, tutorial_dir,
};

/// Replays a scenario against the agent server and checks every answer and Bedrock request.
///
/// With no options: the tutorial, offline, with Bedrock played from recordings.
#[derive(Debug, Parser)]
#[command(name = "scenario-harness", version)]
struct Args {
    /// Scenario folder (script.json and recordings/).
    #[arg(long, value_name = "DIR", default_value_os_t = tutorial_dir())]
    scenario: PathBuf,
    /// Drive this AgentCore-contract server instead, checking its answers.
    #[arg(long, value_name = "URL", conflicts_with = "record")]
    url: Option<String>,
    /// Run against live Bedrock (AWS credentials required) and write fresh recordings here.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// How to take the answers: one JSON answer, server-sent events, or the /ws WebSocket.
    #[arg(long, value_enum, default_value_t = Transport::Json)]
    transport: Transport,
    /// Take the answers as server-sent events (the same as `--transport event-stream`).
    #[arg(long, conflicts_with = "transport")]
    stream: bool,
    /// Bedrock model id for --record.
    #[arg(long, env = "BEDROCK_MODEL_ID", default_value = DEFAULT_MODEL_ID)]
    model_id: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let report = run(&args).await?;
    println!("{}", report.render(Ids::Shown));
    if let Some(dir) = &args.record {
        println!("Recordings written to {}", dir.display());
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn run(args: &Args) -> anyhow::Result<Report> {
    let transport = if args.stream {
        Transport::EventStream
    } else {
        args.transport
    };
    if let Some(url) = &args.url {
        let script = Script::load(&args.scenario)?;
        let steps = runner::drive(url, &script, transport, |_, _| {}).await?;
        return Ok(Report::new(&script, steps, None, Vec::new()));
    }
    if let Some(out_dir) = &args.record {
        let model = BedrockModel::from_env(&args.model_id).await;
        return record::record(&args.scenario, out_dir, Arc::new(model)).await;
    }
    run_local_with(&args.scenario, transport, tutorial_app).await
}
