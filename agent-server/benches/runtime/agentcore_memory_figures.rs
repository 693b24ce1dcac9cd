//! Sessions in AgentCore Memory beside the in-memory store, through the Memory stand-in on a
//! loopback port and the real `aws-sdk-bedrockagentcore` client: calls to Memory per turn and
//! per restore, the latency a turn adds (live, and restoring), and throughput at 8 clients.
//! The stand-in answers at once, so the added latency is the runtime's and the SDK's own, plus
//! loopback HTTP — not the service's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use agent_core::session::{AgentCoreMemory, AgentCoreMemorySessionStore, SessionConfig};
use agent_testkit::{MemoryStandIn, STAND_IN_MEMORY_ID};
use serde_json::json;

use crate::instant_model::{EXPECTED_ANSWER, memory_store};
use crate::load::{client_runtime, load, print_row};
use crate::serving::serve_in_background;

/// Sessions of the sequential rounds.
const SESSIONS: usize = 50;
/// Turns per session in the first round.
const TURNS: usize = 3;

pub(crate) fn agentcore_memory() {
    println!(
        "AgentCore Memory session store beside the in-memory one (Memory stand-in on loopback, real SDK)"
    );
    println!(
        "  target: one CreateEvent per turn, no read while a session is live, one ListEvents per page on restore"
    );
    let runtime = client_runtime();
    let stand_in = runtime.block_on(MemoryStandIn::start());
    let endpoint = stand_in.endpoint();
    let memory = runtime.block_on(AgentCoreMemory::for_local_endpoint(
        &endpoint,
        STAND_IN_MEMORY_ID.parse().unwrap(),
    ));
    let store = {
        let memory = memory.clone();
        move || AgentCoreMemorySessionStore::new(memory, SessionConfig::default(), None)
    };

    let (in_memory, _memory_server) = serve_in_background(|| Arc::new(memory_store(1_000_000)));
    let (first, _first_server) = serve_in_background({
        let store = store.clone();
        move || Arc::new(store())
    });
    let baseline = runtime.block_on(turns(in_memory, "memory", TURNS));
    let live = runtime.block_on(turns(first, "agentcore", TURNS));
    let creates = stand_in.requests("CreateEvent").len();
    let lists = stand_in.requests("ListEvents").len();
    println!(
        "  {SESSIONS} sessions × {TURNS} turns: CreateEvent {creates} ({:.2} per turn), ListEvents {lists} ({:.2} per session, when it is new)",
        creates as f64 / (SESSIONS * TURNS) as f64,
        lists as f64 / SESSIONS as f64
    );

    // A restart: a new server holds none of the sessions, and restores each on its next turn.
    let (restarted, _restarted_server) = serve_in_background(move || Arc::new(store()));
    let restoring = runtime.block_on(turns(restarted, "agentcore", 1));
    let lists_on_restore = stand_in.requests("ListEvents").len() - lists;
    let creates_on_restore = stand_in.requests("CreateEvent").len() - creates;
    println!(
        "  restore of a {}-message session: ListEvents {:.2}, CreateEvent {:.2} per turn",
        TURNS * 4,
        lists_on_restore as f64 / SESSIONS as f64,
        creates_on_restore as f64 / SESSIONS as f64
    );
    println!(
        "  {:<34} {:>10} {:>10}",
        "turn latency (one client)", "p50 ms", "p90 ms"
    );
    for (label, latencies) in [
        ("memory store", &baseline),
        ("agentcore memory, live session", &live),
        ("agentcore memory, restoring", &restoring),
    ] {
        println!(
            "  {:<34} {:>10.3} {:>10.3}",
            label,
            percentile(latencies, 0.5),
            percentile(latencies, 0.9)
        );
    }
    println!(
        "  added per live turn (p50): {:.3} ms; per restoring turn: {:.3} ms",
        percentile(&live, 0.5) - percentile(&baseline, 0.5),
        percentile(&restoring, 0.5) - percentile(&baseline, 0.5)
    );

    println!(
        "  {:<30} {:>8} {:>14} {:>10} {:>10} {:>8}",
        "store", "clients", "invocations/s", "p50 ms", "p99 ms", "wrong"
    );
    let memory_rate = runtime.block_on(load(in_memory, 8, false, 2_000));
    print_row("memory", 8, &memory_rate);
    let agentcore_rate = runtime.block_on(load(first, 8, false, 2_001));
    print_row("agentcore memory", 8, &agentcore_rate);
    println!(
        "  {:<30} agentcore / memory: {:.2}",
        "",
        agentcore_rate.per_second / memory_rate.per_second
    );
    println!();
}

/// `turns` turns in each of [`SESSIONS`] sessions, one at a time; the latency of each, in ms.
async fn turns(address: SocketAddr, prefix: &str, turns: usize) -> Vec<f64> {
    let client = reqwest::Client::new();
    let url = format!("http://{address}/invocations");
    let body = json!({"prompt": "2+5の答えは?", "user_id": "1"}).to_string();
    let mut latencies = Vec::with_capacity(SESSIONS * turns);
    for turn in 0..turns {
        for session in 0..SESSIONS {
            let started = Instant::now();
            let response = client
                .post(&url)
                .header(
                    "x-amzn-bedrock-agentcore-runtime-session-id",
                    format!("{prefix}-{session}"),
                )
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(
                status.is_success() && text == EXPECTED_ANSWER,
                "turn {turn}: {status} {text}"
            );
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    latencies
}

fn percentile(latencies: &[f64], at: f64) -> f64 {
    let mut sorted = latencies.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * at).round() as usize]
}
