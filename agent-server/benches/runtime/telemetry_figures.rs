//! The price of OpenTelemetry: the `agent-server` binary (`--replay fixtures/tutorial`, a new
//! session per invocation: two model turns and a tool call, so five spans and a dozen metric
//! events each) under the same load with export off, and with traces and metrics exported over
//! OTLP/HTTP to a local receiver that takes them and answers at once. Rounds alternate, so a
//! drift in the machine's speed reaches both alike.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use serde_json::json;

use crate::{SESSION_ID_HEADER, run_in_background_named};

const CLIENTS: usize = 8;
const ROUNDS: usize = 3;
const MEASURE: Duration = Duration::from_secs(2);

pub fn telemetry() {
    println!("OpenTelemetry export: the binary's throughput with OTLP export on against off");
    println!("  target: at most 10% lower with export on");
    let received = Arc::new(AtomicUsize::new(0));
    let bytes = received.clone();
    let (collector, _collector) = run_in_background_named("collector", move |listener| {
        let answer = move |body: Bytes| {
            bytes.fetch_add(body.len(), Ordering::Relaxed);
            async { Vec::<u8>::new() }
        };
        let router = Router::new()
            .route("/v1/traces", post(answer.clone()))
            .route("/v1/metrics", post(answer));
        async move { axum::serve(listener, router).await }
    });
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let endpoint = format!("http://{collector}");
    let mut ratios = Vec::new();
    for round in 1..=ROUNDS {
        let mut rates = [0.0; 2];
        for (slot, export) in [(0, false), (1, true)] {
            let mut server = Server::start(export.then_some(endpoint.as_str()));
            let served = client_runtime.block_on(invoke_for(server.address, round, slot));
            rates[slot] = served as f64 / MEASURE.as_secs_f64();
            server.stop();
        }
        let ratio = rates[1] / rates[0];
        println!(
            "  round {round}: export off {:.0} invocations/s, on {:.0}; on / off {ratio:.2}",
            rates[0], rates[1]
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "  on / off, median of {ROUNDS}: {:.2}; the collector received {:.1} MiB of OTLP\n",
        ratios[ROUNDS / 2],
        received.load(Ordering::Relaxed) as f64 / 1048576.0
    );
}

/// The release binary on the tutorial's recordings; with `endpoint`, exporting to it.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn start(endpoint: Option<&str>) -> Self {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
        let mut command = Command::new(env!("CARGO_BIN_EXE_agent-server"));
        command
            .args(["--host", "127.0.0.1", "--port", "0", "--replay"])
            .arg(fixtures)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(endpoint) = endpoint {
            command.env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint);
        }
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.split_whitespace()
                    .find_map(|field| field.strip_prefix("address=").map(str::to_owned))
            })
            .expect("the start-up line")
            .parse()
            .unwrap();
        // Keep reading its log so the pipe never fills.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, address }
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// `CLIENTS` clients asking the tutorial's first question on a new session each time, for
/// `MEASURE`; returns how many were answered 200.
async fn invoke_for(server: SocketAddr, round: usize, slot: usize) -> usize {
    let url = format!("http://{server}/invocations");
    let client = reqwest::Client::new();
    let body = json!({"prompt": "外の天気はどうですか?", "user_id": "1"}).to_string();
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let mut served = 0;
                while started.elapsed() < MEASURE {
                    let response = client
                        .post(&url)
                        .header(
                            SESSION_ID_HEADER,
                            format!("otel-{round}-{slot}-{n}-{served}"),
                        )
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let ok = response.status() == 200;
                    let _ = response.bytes().await;
                    assert!(ok, "every invocation is answered");
                    served += 1;
                }
                served
            })
        })
        .collect();
    let mut served = 0;
    for task in tasks {
        served += task.await.unwrap();
    }
    served
}
