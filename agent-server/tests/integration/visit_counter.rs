//! The `visit_counter` example as a black box: its binary on a loopback port, counting each
//! session's successful invocations in the session state — per session, per user — and not
//! counting a failed one.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The example's process; killed when dropped.
struct Example {
    child: Child,
    address: String,
}

impl Example {
    fn start() -> Self {
        // Examples are built beside the test binaries: target/<profile>/examples/.
        let deps = std::env::current_exe().unwrap();
        let binary = deps
            .parent()
            .and_then(|deps| deps.parent())
            .unwrap()
            .join("examples/visit_counter");
        let mut child = Command::new(&binary)
            .arg("0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("{}: {error}", binary.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("visit_counter on ")
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Self { child, address }
    }

    async fn visit(&self, session: &str, user: Option<&str>, payload: Value) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("http://{}/invocations", self.address))
            .header("x-amzn-bedrock-agentcore-runtime-session-id", session)
            .json(&payload);
        if let Some(user) = user {
            request = request.header("x-amzn-bedrock-agentcore-runtime-user-id", user);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn it_counts_each_sessions_successful_visits() {
    let example = Example::start();
    let visits = |answer: &Value| answer["visits"].clone();
    for expected in 1..=3 {
        let (status, answer) = example.visit("s-1", Some("maira"), json!({})).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer,
            json!({"session_id": "s-1", "user_id": "maira", "visits": expected})
        );
    }
    let (status, answer) = example
        .visit("s-1", Some("maira"), json!({"fail": true}))
        .await;
    assert_eq!(
        (status, answer["error"].clone()),
        (500, json!("asked to fail"))
    );
    let (_, answer) = example.visit("s-1", Some("maira"), json!({})).await;
    assert_eq!(visits(&answer), json!(4), "the failed visit was not stored");

    let (_, answer) = example.visit("s-2", Some("maira"), json!({})).await;
    assert_eq!(visits(&answer), json!(1), "another session");
    let (_, answer) = example.visit("s-1", Some("mani"), json!({})).await;
    assert_eq!(
        visits(&answer),
        json!(1),
        "another user, the same session id"
    );
    let (_, answer) = example.visit("s-1", None, json!({"fail": false})).await;
    assert_eq!(
        answer,
        json!({"session_id": "s-1", "user_id": null, "visits": 1})
    );
    let (status, _) = example.visit("s-1", None, json!({"fail": "yes"})).await;
    assert_eq!(status, 400);
}
