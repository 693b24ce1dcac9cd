//! The hot path against its floor, under the same `wrk` load: the replay server answering the
//! tutorial's weather question on a new session per invocation (two model turns and a tool call,
//! session, history, logging and validation included) against a bare axum handler that only
//! parses the JSON body and answers a JSON string. Needs `wrk` (Debian package) on the PATH.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use agent_core::replay::{RecordingSet, ReplayModel};
use agent_server::tutorial::TutorialEntrypoint;
use agent_server::{AgentCoreApp, entrypoint_fn};
use axum::Router;
use axum::body::Bytes;
use axum::response::IntoResponse;
use axum::routing::post;

use crate::instant_model::memory_store;
use crate::process_stats::thread_cpu;
use agent_testkit::serve_on_own_runtime;

/// wrk's script: a new session id for every request (each wrk thread numbers its own), the
/// tutorial's first question.
const SCRIPT: &str = r#"
threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
counter = 0
request = function()
  counter = counter + 1
  local headers = {}
  headers["X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"] = "wrk-" .. id .. "-" .. counter
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/invocations", headers, '{"prompt": "外の天気はどうですか?", "user_id": "1"}')
end
"#;

pub(crate) fn hot_path() {
    println!("The hot path against a bare handler, under wrk (2 threads, 8 connections, 3 s)");
    println!("  target: the replay server at least 0.7 of the bare handler's requests/s");
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("  skipped: wrk is not installed (apt-get install wrk)\n");
        return;
    }
    let script = std::env::temp_dir().join(format!("agentcore-wrk-{}.lua", std::process::id()));
    std::fs::write(&script, SCRIPT).unwrap();

    let (floor, _floor) = serve_on_own_runtime("floor", |listener| {
        let router = Router::new().route(
            "/invocations",
            post(|body: Bytes| async move {
                match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(_) => axum::Json("ok").into_response(),
                    Err(_) => axum::http::StatusCode::BAD_REQUEST.into_response(),
                }
            }),
        );
        async move { axum::serve(listener, router).await }
    });
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let (replay, _replay) = serve_on_own_runtime("replay", move |listener| {
        let model = ReplayModel::new(RecordingSet::load(&fixtures).unwrap());
        AgentCoreApp::new(TutorialEntrypoint::with_model(
            Arc::new(model),
            agent_tools::Clock::Local,
            agent_core::AgentConfig::default(),
            Arc::new(memory_store(10_000_000)),
        ))
        .serve(listener, std::future::pending())
    });
    let (contract, _contract) = serve_on_own_runtime("contract", |listener| {
        let answer_at_once = entrypoint_fn(|_payload, _context| async { Ok("ok") });
        AgentCoreApp::new(answer_at_once).serve(listener, std::future::pending())
    });
    let floor_rate = wrk(floor, "floor", &script, "bare handler");
    let contract_rate = wrk(contract, "contract", &script, "contract only");
    let replay_rate = wrk(replay, "replay", &script, "replay server");
    println!(
        "  contract only / bare: {:.2} (the contract around an entrypoint that answers at once)",
        contract_rate / floor_rate
    );
    println!("  replay / bare: {:.2}\n", replay_rate / floor_rate);
    let _ = std::fs::remove_file(&script);
}

/// Runs wrk against `address`, prints its line with the CPU the server's threads (named
/// `threads`) spent per request, returns requests/s.
fn wrk(address: SocketAddr, threads: &str, script: &Path, label: &str) -> f64 {
    let cpu_before = thread_cpu(threads);
    let output = Command::new("wrk")
        .args(["-t2", "-c8", "-d3s", "--latency", "-s"])
        .arg(script)
        .arg(format!("http://{address}/invocations"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        text.lines().find_map(|line| {
            line.trim()
                .strip_prefix(prefix)
                .map(str::trim)
                .map(str::to_owned)
        })
    };
    let rate: f64 = field("Requests/sec:")
        .and_then(|rate| rate.parse().ok())
        .unwrap_or(0.0);
    let failed = field("Non-2xx or 3xx responses:").unwrap_or_else(|| "0".into());
    let p99 = field("99%").unwrap_or_default();
    let requests: f64 = text
        .lines()
        .find_map(|line| line.trim().split_once(" requests in"))
        .and_then(|(count, _)| count.parse().ok())
        .unwrap_or(f64::NAN);
    let cpu = (thread_cpu(threads) - cpu_before).as_secs_f64() * 1e6 / requests;
    println!(
        "  {label:<16} {rate:>10.0} requests/s, p99 {p99}, non-2xx {failed}, {cpu:.1} µs of server CPU per request"
    );
    rate
}
