//! Runtime benchmarks, printed as figures beside the targets (never asserted):
//!
//! - throughput and p50/p99 latency of `POST /invocations` over loopback HTTP, at 1, 8 and 64
//!   concurrent clients, each on its own session and all on one session;
//! - resident memory per idle session holding the tutorial's 6-message history, at 10,000 and
//!   100,000 sessions (each count measured in a fresh process);
//! - time from process start to the first successful `/ping`, and resident memory then;
//! - the Redis session store beside the in-memory one: throughput and p99 at 8 clients, and
//!   Redis's own memory per idle session (`redis_figures.rs`; needs `redis-server` on the PATH).
//!
//! The model answers instantly in process with the tutorial's calculator turn (one tool round,
//! two model calls), so the figures are the runtime's own cost.
//!
//! - streaming: from the model's first text delta to the client receiving it over SSE, and
//!   throughput at 8 clients as server-sent events beside plain JSON (`streaming_figures.rs`).
//!
//! - AgentCore Memory: calls to Memory per turn and per restore, the latency a turn adds, and
//!   throughput at 8 clients, through the Memory stand-in (`agentcore_memory_figures.rs`).
//!
//! - the edge under pressure: latency while 3,000 connections hold half a request head, and an
//!   overload of ten times the in-flight cap (`overload_figures.rs`).
//!
//! - the hot path against a bare handler under `wrk` (`hot_path_figures.rs`).
//!
//! - the Bedrock path's CPU per Converse call against a bare SDK loop, both on a local Converse
//!   stand-in (`bedrock_path_figures.rs`).
//!
//! - OpenTelemetry: the binary's throughput with OTLP export on against off
//!   (`telemetry_figures.rs`).
//!
//! - inbound JWT auth: the binary's server CPU per invocation with a verified token against
//!   without auth, and one verification's cost (`auth_figures.rs`).
//!
//! - logging: the binary's throughput logging each invocation at `INFO` through a pipe against
//!   logging warnings only (`logging_figures.rs`).
//!
//! `cargo bench -p agent-server --bench runtime [-- throughput|memory|startup|redis|agentcore-memory|streaming|overload|hot-path|bedrock-path|telemetry|auth|logging]`

mod agentcore_memory_figures;
mod auth_figures;
mod bedrock_path_figures;
mod binary;
mod hot_path_figures;
mod instant_model;
mod load;
mod logging_figures;
mod memory_figures;
mod overload_figures;
mod process_stats;
mod redis_figures;
mod serving;
mod startup_figures;
mod streaming_figures;
mod telemetry_figures;
mod throughput_figures;

/// The binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Ok(count) = std::env::var("BENCH_MEMORY_SESSIONS") {
        memory_figures::memory_child(count.parse().expect("a session count"));
        return;
    }
    if let Ok(count) = std::env::var("BENCH_TELEMETRY_FLOOR") {
        telemetry_figures::floor_child(count.parse().expect("an invocation count"));
        return;
    }
    let sections: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let wants = |name: &str| sections.is_empty() || sections.iter().any(|section| section == name);
    println!(
        "agent-server runtime benchmarks ({} cores)\n",
        process_stats::available_cores()
    );
    if wants("throughput") {
        throughput_figures::throughput();
    }
    if wants("memory") {
        memory_figures::memory();
    }
    if wants("startup") {
        startup_figures::startup();
    }
    if wants("agentcore-memory") {
        agentcore_memory_figures::agentcore_memory();
    }
    if wants("redis") {
        redis_figures::redis();
    }
    if wants("streaming") {
        streaming_figures::streaming();
    }
    if wants("overload") {
        overload_figures::overload();
    }
    if wants("hot-path") {
        hot_path_figures::hot_path();
    }
    if wants("bedrock-path") {
        bedrock_path_figures::bedrock_path();
    }
    if wants("telemetry") {
        telemetry_figures::telemetry();
    }
    if wants("auth") {
        auth_figures::auth();
    }
    if wants("logging") {
        logging_figures::logging();
    }
}
