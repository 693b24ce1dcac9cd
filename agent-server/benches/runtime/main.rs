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
//! - logging: the binary's throughput logging each invocation at `INFO` through a pipe against
//!   logging warnings only (`logging_figures.rs`).
//!
//! `cargo bench -p agent-server --bench runtime [-- throughput|memory|startup|redis|streaming|overload|hot-path|bedrock-path|telemetry|logging]`

mod bedrock_path_figures;
mod binary;
mod hot_path_figures;
mod load;
mod logging_figures;
mod overload_figures;
mod redis_figures;
mod streaming_figures;
mod telemetry_figures;
// The tests' helper, of which the bench needs only starting a server and a connection.
#[allow(dead_code)]
#[path = "../../tests/support/redis.rs"]
mod redis_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_core::{
    AgentConfig, ContentBlock, ConverseRequest, MemorySessionStore, Message, Model, ModelError,
    ModelResponse, Role, SessionConfig, SessionId, SessionKey, SessionOwner, SessionStore,
    StopReason, ToolUse, Usage,
};
use agent_server::{
    AgentCoreApp, Entrypoint, RuntimeContext, SESSION_ID_HEADER, TutorialEntrypoint,
};
use agent_tools::Clock;
use async_trait::async_trait;
use load::client_runtime;
use serde_json::json;

/// The binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Answers the tutorial's calculator turn at once: a prompt gets a calculator tool use, a tool
/// result gets the answer, and a thank-you gets a plain reply.
struct InstantModel;

#[async_trait]
impl Model for InstantModel {
    fn describe(&self) -> String {
        "instant".into()
    }

    async fn converse(&self, request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        let last = request.messages.last().expect("a request has messages");
        let (content, stop_reason) = if last.tool_results().next().is_some() {
            (
                vec![ContentBlock::Text("Mairaさん、2+5の答えは7です。".into())],
                StopReason::EndTurn,
            )
        } else if last.text().contains("ありがとう") {
            (
                vec![ContentBlock::Text("どういたしまして、Mairaさん。".into())],
                StopReason::EndTurn,
            )
        } else {
            (
                vec![
                    ContentBlock::Text("Mairaさん、計算します。".into()),
                    ContentBlock::ToolUse(ToolUse {
                        tool_use_id: format!("tooluse_bench_{:06}", request.messages.len()),
                        name: "calculator".into(),
                        input: json!({"expression": "2+5"}),
                    }),
                ],
                StopReason::ToolUse,
            )
        };
        Ok(ModelResponse {
            message: Message {
                role: Role::Assistant,
                content,
            },
            stop_reason,
            usage: Usage::default(),
        })
    }
}

/// The tutorial on the instant model, with its sessions in `store`.
fn entrypoint(store: Arc<dyn SessionStore>) -> TutorialEntrypoint {
    TutorialEntrypoint::with_model(
        Arc::new(InstantModel),
        Clock::Local,
        AgentConfig::default(),
        store,
    )
}

/// An in-memory store for up to `max_sessions`; its line per session is long enough for the
/// 64 clients of the one-session rows, which measure serving in turn, not refusing.
fn memory_store(max_sessions: usize) -> MemorySessionStore {
    MemorySessionStore::new(SessionConfig {
        max_sessions,
        max_waiting: 1_000,
        ..SessionConfig::default()
    })
}

fn main() {
    if let Ok(count) = std::env::var("BENCH_MEMORY_SESSIONS") {
        memory_child(count.parse().expect("a session count"));
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
        available_cores()
    );
    if wants("throughput") {
        throughput();
    }
    if wants("memory") {
        memory();
    }
    if wants("startup") {
        startup();
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
    if wants("logging") {
        logging_figures::logging();
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

// ---------------------------------------------------------------------------------------------
// Throughput and latency

const WARM_UP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(3);

fn throughput() {
    let (address, _server) = serve_in_background(|| Arc::new(memory_store(1_000_000)));
    let client_runtime = client_runtime();
    println!(
        "Throughput of POST /invocations over loopback HTTP (one tool round = two model calls each)"
    );
    println!("  target: ≥ 5,000 invocations/s at 8 clients with p99 under 5 ms");
    println!(
        "  reference (Python SDK + Strands, one process): ~65/s sequentially, p50 14 ms; 97% failed at 8 clients"
    );
    println!(
        "  {:<30} {:>8} {:>14} {:>10} {:>10} {:>8}",
        "sessions", "clients", "invocations/s", "p50 ms", "p99 ms", "wrong"
    );
    for (run, shared) in [false, true].into_iter().enumerate() {
        for clients in [1, 8, 64] {
            let label = if shared {
                "all on one session"
            } else {
                "one per client"
            };
            let result =
                client_runtime.block_on(load(address, clients, shared, run * 100 + clients));
            print_row(label, clients, &result);
        }
    }
    println!();
}

/// Starts the tutorial server on its own 2-thread runtime, with the store `sessions` makes
/// there; returns its address.
fn serve_in_background(
    sessions: impl FnOnce() -> Arc<dyn SessionStore> + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<()>) {
    serve_app_in_background(|| AgentCoreApp::new(entrypoint(sessions())))
}

/// Starts the app `build` makes (on the server's runtime) on its own 2-thread runtime; returns
/// its address.
fn serve_app_in_background(
    build: impl FnOnce() -> AgentCoreApp + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<()>) {
    run_in_background(move |listener| build().serve(listener, std::future::pending()))
}

/// Runs the server `serve` starts on a loopback listener, on its own 2-thread runtime; returns
/// its address.
fn run_in_background<F, Fut>(serve: F) -> (SocketAddr, std::thread::JoinHandle<()>)
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    run_in_background_named("server", serve)
}

/// [`run_in_background`] with the runtime's threads named `name`, so their CPU can be told
/// apart.
fn run_in_background_named<F, Fut>(
    name: &'static str,
    serve: F,
) -> (SocketAddr, std::thread::JoinHandle<()>)
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    let (sender, receiver) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            sender.send(listener.local_addr().unwrap()).unwrap();
            serve(listener).await.unwrap();
        });
    });
    (receiver.recv().unwrap(), handle)
}

/// Every response must be this exact body, so only complete, correct invocations count.
const EXPECTED_ANSWER: &str = "\"Mairaさん、2+5の答えは7です。\"";

/// True when a server-sent event stream ends with the `result` event of the expected answer.
fn ends_with_the_expected_result(body: &[u8]) -> bool {
    let body = String::from_utf8_lossy(body);
    let Some(last) = body.trim_end().rsplit("\n\n").next() else {
        return false;
    };
    let Some(data) = last.strip_prefix("data: ") else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(data).is_ok_and(|event| {
        event["result"]["text"].as_str()
            == EXPECTED_ANSWER
                .strip_prefix('"')
                .and_then(|answer| answer.strip_suffix('"'))
    })
}

/// One row of a throughput table.
fn print_row(label: &str, clients: usize, result: &LoadResult) {
    println!(
        "  {:<30} {:>8} {:>14.0} {:>10.3} {:>10.3} {:>8}",
        label,
        clients,
        result.per_second,
        result.p50.as_secs_f64() * 1e3,
        result.p99.as_secs_f64() * 1e3,
        result.errors
    );
}

struct LoadResult {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

/// The load of [`load_with`] on plain JSON answers.
async fn load(address: SocketAddr, clients: usize, shared: bool, run: usize) -> LoadResult {
    load_with(address, clients, shared, run, false).await
}

/// `clients` clients invoking in a loop, each on its own session or all on one; with
/// `events`, asking for server-sent events and checking the `result` event instead.
async fn load_with(
    address: SocketAddr,
    clients: usize,
    shared: bool,
    run: usize,
    events: bool,
) -> LoadResult {
    let url = format!("http://{address}/invocations");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|n| {
            let client = client.clone();
            let url = url.clone();
            let session = if shared {
                format!("bench-{run}-shared")
            } else {
                format!("bench-{run}-{n}")
            };
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let body = json!({"prompt": "2+5の答えは?", "user_id": "1"}).to_string();
                let accept = if events {
                    "text/event-stream"
                } else {
                    "application/json"
                };
                while started.elapsed() < WARM_UP + MEASURE {
                    let sent = Instant::now();
                    let ok = match client
                        .post(&url)
                        .header(SESSION_ID_HEADER, &session)
                        .header("accept", accept)
                        .body(body.clone())
                        .send()
                        .await
                    {
                        Ok(response) => {
                            response.status() == 200
                                && response.bytes().await.is_ok_and(|body| {
                                    if events {
                                        ends_with_the_expected_result(&body)
                                    } else {
                                        body == EXPECTED_ANSWER.as_bytes()
                                    }
                                })
                        }
                        Err(_) => false,
                    };
                    if sent.duration_since(started) >= WARM_UP {
                        if ok {
                            latencies.push(sent.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mine, failed) = task.await.unwrap();
        latencies.extend(mine);
        errors += failed;
    }
    latencies.sort();
    let at = |fraction: f64| {
        latencies[((latencies.len() as f64 * fraction) as usize).min(latencies.len() - 1)]
    };
    LoadResult {
        per_second: latencies.len() as f64 / MEASURE.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        errors,
    }
}

// ---------------------------------------------------------------------------------------------
// Memory per idle session

fn memory() {
    println!(
        "Resident memory per idle session holding the tutorial's 6-message history (calculator turn + a thank-you)"
    );
    println!("  target: ≤ 4 KiB per session beyond its message text");
    println!(
        "  {:>9} {:>14} {:>18} {:>22}",
        "sessions", "RSS growth", "per session", "per session, less text"
    );
    for count in [10_000, 100_000] {
        let output = Command::new(std::env::current_exe().unwrap())
            .env("BENCH_MEMORY_SESSIONS", count.to_string())
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<f64> = line
            .split_whitespace()
            .filter_map(|field| field.parse().ok())
            .collect();
        let [growth, text] = fields[..] else {
            println!(
                "  {count:>9} measurement failed: {line} {}",
                String::from_utf8_lossy(&output.stderr)
            );
            continue;
        };
        println!(
            "  {:>9} {:>11.1} MiB {:>14.0} B {:>20.0} B",
            count,
            growth / 1048576.0,
            growth / count as f64,
            (growth - text) / count as f64
        );
    }
    println!();
}

/// In a fresh process: fills `count` sessions and prints "<RSS growth bytes> <text bytes>".
fn memory_child(count: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = memory_store(count + 1);
        let entrypoint = entrypoint(Arc::new(store.clone()));
        let before = resident_bytes();
        let ids = fill_sessions(&entrypoint, count).await;
        let after = resident_bytes();
        let text = text_bytes(&entrypoint, &ids[0]).await * count as u64;
        assert_eq!(store.len(), count);
        println!("{} {}", after.saturating_sub(before), text);
    });
}

/// Gives `count` sessions of user 1 the tutorial's 6-message history (a calculator turn and a
/// thank-you); returns their ids.
async fn fill_sessions(entrypoint: &TutorialEntrypoint, count: usize) -> Vec<SessionId> {
    let ids: Vec<SessionId> = (0..count)
        .map(|n| SessionId::parse(&format!("{n:08}-0000-4000-8000-000000000000")).unwrap())
        .collect();
    for id in &ids {
        for prompt in ["2+5の答えは?", "ありがとう"] {
            let context = RuntimeContext::for_session(id.clone());
            entrypoint
                .invoke(json!({"prompt": prompt, "user_id": "1"}), context)
                .await
                .expect("the instant model answers");
        }
    }
    ids
}

/// The bytes of text one session holds: its id and owner, message texts, tool ids, names and inputs.
async fn text_bytes(entrypoint: &TutorialEntrypoint, id: &SessionId) -> u64 {
    let key = SessionKey::new(SessionOwner::user("1"), id.clone());
    let conversation = entrypoint.sessions().history(&key).await.unwrap().unwrap();
    assert_eq!(conversation.len(), 6);
    let blocks: usize = conversation
        .messages()
        .iter()
        .flat_map(|message| &message.content)
        .map(|block| match block {
            ContentBlock::Text(text) => text.len(),
            ContentBlock::ToolUse(tool_use) => {
                tool_use.tool_use_id.len() + tool_use.name.len() + tool_use.input.to_string().len()
            }
            ContentBlock::ToolResult(result) => result.tool_use_id.len() + result.text().len(),
        })
        .sum();
    let owner = "1".len();
    (blocks + id.as_str().len() + owner) as u64
}

/// CPU time spent so far by this process's threads whose name starts with `prefix`.
pub(crate) fn thread_cpu(prefix: &str) -> Duration {
    let mut nanos = 0;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten() {
        let Ok(task) = task else { continue };
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        nanos += schedstat
            .split_whitespace()
            .next()
            .and_then(|on_cpu| on_cpu.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(nanos)
}

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    vm_rss_bytes(&status)
}

fn vm_rss_bytes(status: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

// ---------------------------------------------------------------------------------------------
// Start-up

fn startup() {
    const RUNS: usize = 20;
    println!("Start-up: process start to the first successful GET /ping ({RUNS} runs each)");
    println!(
        "  target: under 50 ms; reference: ~860 ms to start and ~112 MB resident after start-up"
    );
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let replay = ["--replay", fixtures.to_str().unwrap()];
    for (label, args) in [
        ("--replay fixtures/tutorial", &replay[..]),
        ("Bedrock (region from env)", &[][..]),
    ] {
        let mut times = Vec::new();
        let mut resident = Vec::new();
        for _ in 0..RUNS {
            let (elapsed, rss) = start_once(args);
            times.push(elapsed);
            resident.push(rss);
        }
        times.sort();
        resident.sort();
        println!(
            "  {label:<28} median {:>6.1} ms (min {:.1}, max {:.1}); resident after start-up {:.1} MiB",
            times[RUNS / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times[RUNS - 1].as_secs_f64() * 1e3,
            resident[RUNS / 2] as f64 / 1048576.0
        );
    }
    println!();
}

/// Starts the binary, waits for its first 200 on /ping; returns the time taken and its RSS.
fn start_once(args: &[&str]) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-server"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = startup_address(&mut lines);
    while !ping_ok(&address) {
        std::thread::sleep(Duration::from_micros(200));
    }
    let elapsed = started.elapsed();
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let rss = vm_rss_bytes(&status);
    let _ = child.kill();
    let _ = child.wait();
    (elapsed, rss)
}

/// The bound address from the binary's start-up line (text logs), read from its stderr.
fn startup_address(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> String {
    lines
        .map_while(Result::ok)
        .find_map(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("address=").map(str::to_owned))
        })
        .expect("the start-up line")
}

fn ping_ok(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let request = format!("GET /ping HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}
