//! An entrypoint that answers its whole runtime context as JSON: what an agent ported from the
//! Python SDK would read from its `RequestContext` and `BedrockAgentCoreContext`.
//!
//! ```sh
//! cargo run -p agent-server --example context_echo -- 8080
//! curl -s localhost:8080/invocations -H 'X-Api-Key: k' -H 'WorkloadAccessToken: t' -d '{}'
//! ```

use agent_server::{AgentCoreApp, Entrypoint, entrypoint_fn, shutdown_signal};
use anyhow::Context;
use serde_json::json;

/// Answers `{"session_id", "request_id", "request_headers", "workload_access_token",
/// "oauth2_callback_url"}`, whatever the payload.
pub(crate) fn context_echo() -> impl Entrypoint {
    entrypoint_fn(|_payload, context| async move {
        Ok(json!({
            "session_id": context.session_id.as_str(),
            "request_id": context.request_id,
            "request_headers": context.request_headers,
            "workload_access_token": context.workload_access_token,
            "oauth2_callback_url": context.oauth2_callback_url,
        }))
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .context("usage: context_echo PORT")?
        .parse()
        .context("PORT must be a port number")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("context_echo on {}", listener.local_addr()?);
    AgentCoreApp::new(context_echo())
        .serve(listener, shutdown_signal())
        .await?;
    Ok(())
}
