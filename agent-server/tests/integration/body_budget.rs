//! The memory budget for request bodies, on the binary: many large bodies at once against a
//! small budget get 503 with `Retry-After` before they are read, small invocations are served
//! meanwhile, a session's history is intact, and the process's peak resident memory — read from
//! the process, not assumed — stays within the budget plus a margin.

use std::path::Path;
use std::sync::Arc;

use crate::support::BINARY;
use agent_testkit::{Log, ServerProcess};
use serde_json::json;

const MIB: u64 = 1024 * 1024;
/// The budget under test, and the size of each large body: room for three at a time.
const BUDGET: u64 = 64 * MIB;
const LARGE: usize = 20 * MIB as usize;
const LARGE_CLIENTS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_past_the_budget_get_503_and_memory_stays_within_it() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tutorial");
    let budget = BUDGET.to_string();
    let server = Arc::new(ServerProcess::start_with(
        BINARY,
        &[
            "--replay",
            fixtures.to_str().unwrap(),
            "--max-body-budget-bytes",
            &budget,
        ],
        &[("RUST_LOG", "warn,agent_server=info")],
        Log::Keep,
    ));
    assert!(
        server
            .startup_line
            .contains(&format!("body_budget_bytes={BUDGET}")),
        "{}",
        server.startup_line
    );
    let client = reqwest::Client::new();
    let url = format!("http://{}/invocations", server.address);
    let weather = |session: String| {
        client
            .post(&url)
            .header("x-amzn-bedrock-agentcore-runtime-session-id", session)
            .json(&json!({"prompt": "外の天気はどうですか?", "user_id": "1"}))
            .send()
    };
    assert_eq!(weather("kept".into()).await.unwrap().status(), 200);
    let (before, _) = server.resident_memory();

    // Each large body is a valid payload for an unknown user: parsed whole, then refused (400).
    let large = Arc::new(format!(
        "{{\"prompt\": \"{}\", \"user_id\": \"99\"}}",
        "x".repeat(LARGE)
    ));
    let senders: Vec<_> = (0..LARGE_CLIENTS)
        .map(|_| {
            let (client, url, large) = (client.clone(), url.clone(), large.clone());
            tokio::spawn(async move {
                let response = client
                    .post(&url)
                    .header("x-amzn-bedrock-agentcore-runtime-session-id", "large")
                    .body(large.as_bytes().to_vec())
                    .send()
                    .await
                    .unwrap();
                let retry_after = response.headers().get("retry-after").cloned();
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap();
                (status, retry_after, body)
            })
        })
        .collect();
    // Small invocations keep being served while the large bodies arrive.
    for small in 0..20 {
        let response = weather(format!("small-{small}")).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let mut busy = 0;
    for sender in senders {
        let (status, retry_after, body) = sender.await.unwrap();
        match status {
            400 => assert_eq!(body["error"], "Invalid payload", "{body}"),
            503 => {
                assert_eq!(body["error"], "Server busy", "{body}");
                assert_eq!(retry_after.unwrap(), "1");
                busy += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(
        busy > 0,
        "16 bodies of 20 MiB cannot all fit a 64 MiB budget"
    );

    let (_, peak) = server.resident_memory();
    let margin = 48 * MIB;
    assert!(
        peak.saturating_sub(before) <= BUDGET + margin,
        "peak {} MiB, {} MiB before the large bodies",
        peak / MIB,
        before / MIB
    );
    let history = client
        .post(&url)
        .header("x-amzn-bedrock-agentcore-runtime-session-id", "kept")
        .json(&json!({"prompt": "2+5の答えは?", "user_id": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 200, "the session kept its history");
}
