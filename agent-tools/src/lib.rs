//! The tutorial agent's tools, usable in any `agent-core` agent — with or without the server,
//! and without the AWS SDK (depend on `agent-core` with `default-features = false`).
//!
//! ```
//! use std::sync::Arc;
//! use agent_core::scripted::{ScriptedModel, text_response, tool_use_response};
//! use agent_core::{Agent, Conversation};
//! use agent_tools::{Calculator, tutorial_tools};
//! use serde_json::json;
//!
//! // On its own: the text the model would see.
//! assert_eq!(Calculator::evaluate("2**3 + 1").unwrap(), "Result: 9");
//!
//! // In an agent, here driven by a scripted model instead of Bedrock.
//! let model = ScriptedModel::sequence(vec![
//!     Ok(tool_use_response(&[("t1", "calculator", json!({"expression": "2+5"}))])),
//!     Ok(text_response("7 です。")),
//! ]);
//! let mut builder = Agent::builder(Arc::new(model.clone()));
//! for tool in tutorial_tools(agent_tools::Clock::Local) {
//!     builder = builder.tool(tool).unwrap();
//! }
//! let agent = builder.build();
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut conversation = Conversation::new();
//! let reply = agent.invoke(&mut conversation, "2+5の答えは?").await.unwrap();
//! assert_eq!(reply.text, "7 です。");
//! assert_eq!(conversation.messages()[2].tool_results().next().unwrap().text(), "Result: 7");
//! # });
//! ```

use std::sync::Arc;

use agent_core::Tool;

pub mod calculator;
#[cfg(any(feature = "mcp-client", feature = "mcp-server"))]
pub mod mcp;
pub mod time;
pub mod weather;

pub use calculator::Calculator;
pub use time::{Clock, GetTime};
pub use weather::Weather;

/// The tutorial's three tools in the reference agent's order: calculator, weather, get_time.
pub fn tutorial_tools(clock: Clock) -> [Arc<dyn Tool>; 3] {
    [
        Arc::new(Calculator),
        Arc::new(Weather),
        Arc::new(GetTime::new(clock)),
    ]
}
