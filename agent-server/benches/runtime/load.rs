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
pub(crate) async fn invoke_new_sessions_for(
    server: SocketAddr,
    clients: usize,
    duration: Duration,
    prompt: &str,
    sessions: &str,
    expected: Option<&'static str>,
) -> usize {
    let url: Arc<str> = format!("http://{server}/invocations").into();
    let client = reqwest::Client::new();
    let body = Bytes::from(json!({"prompt": prompt, "user_id": "1"}).to_string());
    let sessions: Arc<str> = sessions.into();
    let next = Arc::new(AtomicUsize::new(0));
    in_parallel_for(clients, duration, move || {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        let session = format!("{sessions}-{:08}", next.fetch_add(1, Ordering::Relaxed));
        async move {
            let response = client
                .post(&*url)
                .header(SESSION_ID_HEADER, session)
                .body(body)
                .send()
                .await
                .unwrap();
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
