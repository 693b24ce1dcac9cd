//! An entrypoint that keeps state with its session: it counts each session's successful
//! invocations in the session state, which is committed with the turn or not at all — a failed
//! invocation counts, then fails, and the stored count does not move.
//!
//! ```sh
//! cargo run -p agent-server --example visit_counter -- 8080
//! curl -s localhost:8080/invocations -H 'X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: s-1' \
//!   -H 'X-Amzn-Bedrock-AgentCore-Runtime-User-Id: maira' -d '{}'     # {"visits": 1, …}
//! curl -s localhost:8080/invocations … -d '{"fail": true}'          # 500, still 1 stored
//! ```

use std::sync::Arc;

use agent_core::session::{MemorySessionStore, SessionConfig, SessionStore};
use agent_server::{AgentCoreApp, InvocationError, entrypoint_fn, shutdown_signal};
use anyhow::Context;
use axum::http::StatusCode;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .context("usage: visit_counter PORT")?
        .parse()
        .context("PORT must be a port number")?;
    let sessions: Arc<dyn SessionStore> =
        Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let app = AgentCoreApp::new(entrypoint_fn(move |payload: Value, context| {
        let sessions = sessions.clone();
        async move {
            let fail = match &payload["fail"] {
                Value::Null => false,
                Value::Bool(fail) => *fail,
                _ => {
                    return Err(InvocationError::InvalidPayload(
                        "`fail` must be a boolean".into(),
                    ));
                }
            };
            // The session as the runtime names it, owned by the runtime user id header.
            let mut turn = sessions.checkout(&context.session_key()).await?;
            let visits = turn
                .state()
                .get("visits")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                + 1;
            turn.state_mut().set("visits", visits).map_err(|error| {
                InvocationError::with_status(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
            })?;
            if fail {
                // Dropping the turn without committing leaves the stored count as it was.
                return Err(InvocationError::with_status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "asked to fail",
                ));
            }
            turn.commit().await?;
            Ok(json!({
                "session_id": context.session_id.as_str(),
                "user_id": context.user_id,
                "visits": visits,
            }))
        }
    }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("visit_counter on {}", listener.local_addr()?);
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
}
