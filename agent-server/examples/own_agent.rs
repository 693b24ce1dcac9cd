//! Your own agent on the runtime, in a few lines: a definition (model, system prompt, tools —
//! here one of the built-ins and one of its own), served with one conversation per runtime
//! session, in memory or in Redis, with everything the contract asks (SSE, `/ws`, `/ping`,
//! limits) from the runtime.
//!
//! ```sh
//! AWS_REGION=us-west-2 cargo run -p agent-server --example own_agent -- 8080
//! curl -s localhost:8080/invocations -H 'X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: s-1' \
//!   -d '{"prompt": "How many words are in \"the quick brown fox\", times 3?"}'
//! ```

use std::sync::Arc;

use agent_core::bedrock::{BedrockModel, DEFAULT_MODEL_ID};
use agent_core::session::{MemorySessionStore, SessionConfig};
use agent_core::{Agent, Tool, ToolContext, ToolError, ToolOutput, ToolSpec};
use agent_server::{AgentCoreApp, AgentEntrypoint, shutdown_signal};
use agent_tools::Calculator;
use async_trait::async_trait;
use serde_json::{Value, json};

/// Counts the words of a text: a tool of this agent's own.
struct WordCount;

#[async_trait]
impl Tool for WordCount {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "word_count".into(),
            description: "Counts the words of a text.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"]
            }),
        }
    }

    async fn call(&self, input: Value, _context: &ToolContext) -> Result<ToolOutput, ToolError> {
        let text = input["text"].as_str().unwrap_or_default();
        Ok(ToolOutput::text(
            text.split_whitespace().count().to_string(),
        ))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(Ok(8080), |port| port.parse())?;
    let model = BedrockModel::from_env(DEFAULT_MODEL_ID).await;
    let agent = Agent::builder(Arc::new(model))
        .system_prompt("You count words and do arithmetic with your tools.")
        .tool(Arc::new(WordCount))?
        .tool(Arc::new(Calculator))?
        .build();
    let sessions = Arc::new(MemorySessionStore::new(SessionConfig::default()));
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    AgentCoreApp::new(AgentEntrypoint::new(agent, sessions))
        .serve(listener, shutdown_signal())
        .await?;
    Ok(())
}
