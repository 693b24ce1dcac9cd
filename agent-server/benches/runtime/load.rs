//! The load the benches put on what they measure: concurrent loops for a while, counting what
//! they did.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_server::SESSION_ID_HEADER;
use axum::body::Bytes;
use serde_json::json;

use crate::instant_model::{EXPECTED_ANSWER, ends_with_the_expected_result};

/// `loops` concurrent loops, each running `round` again until `duration` has passed; returns
/// the sum of what the rounds counted.
pub(crate) async fn in_parallel_for<F, Fut>(loops: usize, duration: Duration, round: F) -> usize
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = usize> + Send + 'static,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..loops)
        .map(|_| {
            let round = round.clone();
            tokio::spawn(async move {
                let mut counted = 0;
                while started.elapsed() < duration {
                    counted += round().await;
                }
                counted
            })
        })
        .collect();
    let mut counted = 0;
    for task in tasks {
        counted += task.await.unwrap();
    }
    counted
}

/// `clients` clients invoking `server` with user 1's `prompt` for `duration`, each invocation
/// on a new session whose id starts with `sessions`; returns how many were answered. Anything
/// but a 200 — or, with `expected`, any other body — stops the bench, so only complete, correct
/// invocations count.
/// Every request carries `bearer` (a token) when given.
pub(crate) async fn invoke_new_sessions_for(
    server: SocketAddr,
    clients: usize,
    duration: Duration,
    prompt: &str,
    sessions: &str,
    expected: Option<&'static str>,
    bearer: Option<&str>,
) -> usize {
    let bearer: Option<Arc<str>> = bearer.map(Into::into);
    let url: Arc<str> = format!("http://{server}/invocations").into();
    let client = reqwest::Client::new();
    let body = Bytes::from(json!({"prompt": prompt, "user_id": "1"}).to_string());
    let sessions: Arc<str> = sessions.into();
    let next = Arc::new(AtomicUsize::new(0));
    in_parallel_for(clients, duration, move || {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        let session = format!("{sessions}-{:08}", next.fetch_add(1, Ordering::Relaxed));
        let bearer = bearer.clone();
        async move {
            let mut request = client.post(&*url).header(SESSION_ID_HEADER, session);
            if let Some(bearer) = bearer {
                request = request.bearer_auth(&*bearer);
            }
            let response = request.body(body).send().await.unwrap();
            let status = response.status();
            let answer = response.bytes().await.unwrap();
            assert!(
                status == 200 && expected.is_none_or(|expected| answer == expected.as_bytes()),
                "{status}: {}",
                String::from_utf8_lossy(&answer)
            );
            1
        }
    })
    .await
}

/// The load generator's runtime: two worker threads, one per core of the machine the figures
/// are taken on, sharing them with what they measure.
pub(crate) fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) const WARM_UP: Duration = Duration::from_millis(500);
pub(crate) const MEASURE: Duration = Duration::from_secs(3);

/// One row of a throughput table.
pub(crate) fn print_row(label: &str, clients: usize, result: &LoadResult) {
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

/// What one load measured: answers a second, latency percentiles, and wrong answers.
pub(crate) struct LoadResult {
    pub(crate) per_second: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) errors: usize,
}

/// The load of [`load_with`] on plain JSON answers.
pub(crate) async fn load(
    address: SocketAddr,
    clients: usize,
    shared: bool,
    run: usize,
) -> LoadResult {
    load_with(address, clients, shared, run, false).await
}

/// `clients` clients invoking in a loop, each on its own session or all on one; with
/// `events`, asking for server-sent events and checking the `result` event instead.
pub(crate) async fn load_with(
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
