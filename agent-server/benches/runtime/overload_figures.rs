//! The edge under pressure: `/ping` and invocation latency while 3,000 connections hold half a
//! request head each, and an overload of ten times the in-flight cap on a model that takes 20 ms
//! a call — how many invocations are still served, how fast, and how fast the refused ones hear
//! so.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_core::scripted::{ScriptedModel, text_response};
use agent_server::{AgentCoreApp, EdgeConfig, SESSION_ID_HEADER};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::instant_model::{EXPECTED_ANSWER, entrypoint, memory_store};
use crate::load::client_runtime;
use crate::serving::serve_app_in_background;

const HALF_OPEN: usize = 3_000;
const IN_FLIGHT_CAP: usize = 32;
/// What one model call takes in the overload: the cap then serves about 1,600 invocations/s.
const MODEL_CALL: Duration = Duration::from_millis(20);

pub(crate) fn overload() {
    println!("The edge under pressure");
    let client_runtime = client_runtime();
    let (address, _server) = serve_app_in_background(|| {
        AgentCoreApp::new(entrypoint(Arc::new(memory_store(1_000_000))))
            .with_max_in_flight(IN_FLIGHT_CAP)
            .with_edge(EdgeConfig {
                header_timeout: Duration::from_secs(10),
                max_connections: 10_000,
            })
    });
    client_runtime.block_on(async {
        let (ping, invoke) = under_half_open_connections(address).await;
        println!(
            "  {HALF_OPEN} half-open connections held: GET /ping p50 {:.3} ms, p99 {:.3} ms; an invocation p50 {:.3} ms, p99 {:.3} ms",
            ping.0, ping.1, invoke.0, invoke.1
        );
    });
    let (slow, _slow_server) = serve_app_in_background(|| {
        let model = ScriptedModel::new(|_messages: &[agent_core::Message]| Ok(text_response("ok")))
            .with_delay(MODEL_CALL);
        let entrypoint = agent_server::tutorial::TutorialEntrypoint::with_model(
            Arc::new(model),
            agent_tools::Clock::Local,
            agent_core::AgentConfig::default(),
            Arc::new(memory_store(1_000_000)),
        );
        AgentCoreApp::new(entrypoint).with_max_in_flight(IN_FLIGHT_CAP)
    });
    client_runtime.block_on(overloaded(slow));
    println!();
}

/// p50 and p99 of `samples`, in milliseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |fraction: f64| {
        samples[((samples.len() as f64 * fraction) as usize).min(samples.len() - 1)].as_secs_f64()
            * 1e3
    };
    (at(0.50), at(0.99))
}

async fn under_half_open_connections(address: SocketAddr) -> ((f64, f64), (f64, f64)) {
    let mut held = Vec::with_capacity(HALF_OPEN);
    for _ in 0..HALF_OPEN {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    let client = reqwest::Client::new();
    let mut pings = Vec::new();
    let mut invocations = Vec::new();
    for n in 0..200 {
        let sent = Instant::now();
        let ping = client
            .get(format!("http://{address}/ping"))
            .send()
            .await
            .unwrap();
        assert_eq!(ping.status(), 200);
        pings.push(sent.elapsed());
        let sent = Instant::now();
        let answer = client
            .post(format!("http://{address}/invocations"))
            .header(SESSION_ID_HEADER, format!("half-open-{n}"))
            .body(json!({"prompt": "2+5の答えは?", "user_id": "1"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.text().await.unwrap(), EXPECTED_ANSWER);
        invocations.push(sent.elapsed());
    }
    drop(held);
    (percentiles(pings), percentiles(invocations))
}

/// Ten times the in-flight cap of clients, each invoking as fast as it can for three seconds;
/// the server's capacity is the cap over [`MODEL_CALL`].
async fn overloaded(address: SocketAddr) {
    let clients = 10 * IN_FLIGHT_CAP;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                let (mut served, mut refused) = (Vec::new(), Vec::new());
                while started.elapsed() < Duration::from_secs(3) {
                    let sent = Instant::now();
                    let response = client
                        .post(format!("http://{address}/invocations"))
                        .header(SESSION_ID_HEADER, format!("overload-{n}"))
                        .body(json!({"prompt": "2+5の答えは?", "user_id": "1"}).to_string())
                        .send()
                        .await;
                    let Ok(response) = response else { continue };
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    match status {
                        200 => served.push(sent.elapsed()),
                        503 => refused.push(sent.elapsed()),
                        _ => {}
                    }
                }
                (served, refused)
            })
        })
        .collect();
    let (mut served, mut refused) = (Vec::new(), Vec::new());
    for task in tasks {
        let (mine, theirs) = task.await.unwrap();
        served.extend(mine);
        refused.extend(theirs);
    }
    let goodput = served.len() as f64 / 3.0;
    let refusals = refused.len() as f64 / 3.0;
    let (served_p50, served_p99) = percentiles(served);
    let (refused_p50, refused_p99) = if refused.is_empty() {
        (0.0, 0.0)
    } else {
        percentiles(refused)
    };
    println!(
        "  {clients} clients against an in-flight cap of {IN_FLIGHT_CAP}: {goodput:.0} served/s (p50 {served_p50:.3} ms, p99 {served_p99:.3} ms), {refusals:.0} refused/s with 503 in p50 {refused_p50:.3} ms, p99 {refused_p99:.3} ms"
    );
}
