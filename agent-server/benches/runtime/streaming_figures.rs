//! Streaming figures: how long a piece of model text takes from the model to the client over
//! server-sent events (the runtime's own latency: agent loop, channel, SSE framing, HTTP), and
//! throughput at 8 clients as events beside plain JSON answers, both on the same server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_core::{
    AgentConfig, ConverseRequest, Model, ModelError, ModelEvent, ModelEvents, ModelResponse,
};
use agent_server::tutorial::TutorialEntrypoint;
use agent_server::{AgentCoreApp, SESSION_ID_HEADER};
use agent_tools::Clock;
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::json;

use crate::instant_model::memory_store;
use crate::load::client_runtime;
use crate::load::{load_with, print_row};
use crate::serving::{serve_app_in_background, serve_in_background};

/// Invocations timed for the first-delta latency.
const SAMPLES: usize = 2_000;

pub(crate) fn streaming() {
    println!("Streaming: server-sent events");
    println!("  target: the model's first text delta reaches the client in under 1 ms on loopback");
    let client_runtime = client_runtime();

    let emitted = Arc::new(Mutex::new(HashMap::new()));
    let model = StampingModel(emitted.clone());
    let (address, _server) = serve_app_in_background(move || {
        AgentCoreApp::new(TutorialEntrypoint::with_model(
            Arc::new(model),
            Clock::Local,
            AgentConfig::default(),
            Arc::new(memory_store(1_000_000)),
        ))
    });
    let mut gaps = client_runtime.block_on(first_delta_latencies(address, emitted));
    gaps.sort();
    let at = |fraction: f64| gaps[((gaps.len() as f64 * fraction) as usize).min(gaps.len() - 1)];
    println!(
        "  first text delta, model to client, {SAMPLES} invocations one at a time: p50 {:.3} ms, p99 {:.3} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    );

    let (address, _server) = serve_in_background(|| Arc::new(memory_store(1_000_000)));
    println!(
        "  {:<30} {:>8} {:>14} {:>10} {:>10} {:>8}",
        "answer as", "clients", "invocations/s", "p50 ms", "p99 ms", "wrong"
    );
    let mut rates = Vec::new();
    for (run, (label, events)) in [("one JSON answer", false), ("server-sent events", true)]
        .into_iter()
        .enumerate()
    {
        let result = client_runtime.block_on(load_with(address, 8, false, 2_000 + run, events));
        print_row(label, 8, &result);
        rates.push(result.per_second);
    }
    println!("  events / JSON: {:.2}", rates[1] / rates[0]);
    println!();
}

/// Streams `"<marker> first"` (noting when), then the rest of the answer; the marker is the
/// last word of the prompt, so the client can tell which delta is its own.
struct StampingModel(Arc<Mutex<HashMap<String, Instant>>>);

#[async_trait]
impl Model for StampingModel {
    async fn converse(&self, _request: ConverseRequest<'_>) -> Result<ModelResponse, ModelError> {
        unreachable!("the bench's agent streams")
    }

    fn converse_stream<'a>(&'a self, request: ConverseRequest<'a>) -> ModelEvents<'a> {
        let prompt = request
            .messages
            .last()
            .map(|message| message.text())
            .unwrap_or_default();
        let marker = prompt
            .split(|c: char| c.is_whitespace())
            .find(|word| word.starts_with("mark-"))
            .unwrap_or("mark-none")
            .to_owned();
        let first = format!("{marker} first");
        let answer = agent_core::scripted::text_response(&format!("{first}, then the rest"));
        let stamps = self.0.clone();
        futures::stream::iter([
            Ok(ModelEvent::TextDelta(first)),
            Ok(ModelEvent::TextDelta(", then the rest".into())),
            Ok(ModelEvent::Completed(answer)),
        ])
        .inspect(move |event| {
            if let Ok(ModelEvent::TextDelta(text)) = event
                && text.ends_with(" first")
            {
                stamps
                    .lock()
                    .unwrap()
                    .insert(marker.clone(), Instant::now());
            }
        })
        .boxed()
    }
}

impl std::fmt::Display for StampingModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = { "stamping".into() };
        formatter.write_str(&text)
    }
}

/// Invokes [`SAMPLES`] times, one at a time, reading each stream as it arrives; returns, for
/// each, the time from the model yielding its first delta to the client reading it.
async fn first_delta_latencies(
    address: SocketAddr,
    emitted: Arc<Mutex<HashMap<String, Instant>>>,
) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let mut gaps = Vec::with_capacity(SAMPLES);
    for n in 0..SAMPLES {
        let marker = format!("mark-{n}");
        let mut response = client
            .post(format!("http://{address}/invocations"))
            .header(SESSION_ID_HEADER, format!("stream-{}", n % 64))
            .header("accept", "text/event-stream")
            .json(&json!({"prompt": format!("hello {marker} "), "user_id": "1"}))
            .send()
            .await
            .unwrap();
        let needle = format!("{marker} first");
        let mut seen = String::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(&needle) {
                let received = Instant::now();
                let sent = emitted.lock().unwrap().remove(&marker).expect("stamped");
                gaps.push(received.duration_since(sent));
                break;
            }
        }
        while response.chunk().await.unwrap().is_some() {}
    }
    gaps
}
