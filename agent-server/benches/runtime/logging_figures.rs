//! The price of logging: the `agent-server` binary answering from the tutorial's recordings
//! (two model turns and a tool call, a new session per invocation) with its log at `INFO` — a
//! line per invocation, read through a pipe as a container runtime reads stderr — against the
//! same binary logging warnings only (so nothing in this load but its start-up line). Rounds
//! alternate, so a drift in the machine's speed reaches both alike.

use std::time::Duration;

use crate::binary::{Binary, Model};
use crate::load::{client_runtime, invoke_new_sessions_for};

const CLIENTS: usize = 8;
const ROUNDS: usize = 3;
const MEASURE: Duration = Duration::from_secs(2);

pub(crate) fn logging() {
    println!("Logging: the binary's throughput logging each invocation at INFO through a pipe");
    println!("  against logging warnings only, {CLIENTS} clients, replay");
    let client_runtime = client_runtime();
    let mut ratios = Vec::new();
    for round in 1..=ROUNDS {
        let mut figures = [(0.0, 0.0); 2];
        // Warnings only, but for the start-up line, which gives the bench the port.
        for (slot, level) in ["info", "warn,agent_server=info,agent_server::app=warn"]
            .into_iter()
            .enumerate()
        {
            // Room for every session the load makes, beyond the default cap.
            let environment = [
                ("RUST_LOG", level),
                ("AGENT_SERVER_MAX_SESSIONS", "10000000"),
            ];
            let mut server = Binary::start(Model::Replay, &environment);
            let before = server.cpu();
            let sessions = format!("logging-{round}-{slot}");
            let served = client_runtime.block_on(invoke_new_sessions_for(
                server.address,
                CLIENTS,
                MEASURE,
                Model::Replay.prompt(),
                &sessions,
                None,
                None,
            ));
            let cpu = (server.cpu() - before).as_secs_f64() * 1e6 / served as f64;
            figures[slot] = (served as f64 / MEASURE.as_secs_f64(), cpu);
            server.stop();
        }
        let [(info, info_cpu), (warn, warn_cpu)] = figures;
        let ratio = info / warn;
        println!(
            "  round {round}: INFO {info:.0} invocations/s ({info_cpu:.1} µs of server CPU each), warnings only {warn:.0} ({warn_cpu:.1} µs); INFO / warnings only {ratio:.2}"
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "  INFO / warnings only, median of {ROUNDS}: {:.2}\n",
        ratios[ROUNDS / 2]
    );
}
