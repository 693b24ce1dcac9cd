//! The limits and policies an agent definition carries: how long it may work, how often it
//! retries, how much history it keeps, and what its traces may hold.

use std::time::Duration;

use crate::agent::retry::RetryPolicy;
use crate::conversation::SlidingWindow;

/// Limits and policies of an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentConfig {
    /// Model calls allowed in one invocation before it is stopped as a runaway tool loop.
    pub max_cycles: u32,
    /// How much history is kept between invocations.
    pub window: SlidingWindow,
    /// Retries of throttled and 5xx model calls.
    pub retry: RetryPolicy,
    /// How long one model call may take, and — when the model streams — how long it may stay
    /// silent between two events.
    pub model_timeout: Duration,
    /// How long a whole invocation may take, retries and tool cycles included; past it the
    /// invocation fails and its history is rolled back.
    pub invocation_timeout: Duration,
    /// Call the model's streaming form (Bedrock ConverseStream), as the reference agent does;
    /// otherwise its plain call (Converse). The answer is the same either way.
    pub model_streaming: bool,
    /// Put message content (tool arguments and results) on trace spans. Off by default:
    /// prompts and tool output may hold what a trace backend should not.
    pub record_content: bool,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            max_cycles: 20,
            window: SlidingWindow::default(),
            retry: RetryPolicy::default(),
            model_timeout: Duration::from_secs(120),
            invocation_timeout: Duration::from_secs(15 * 60),
            model_streaming: true,
            record_content: false,
        }
    }
}
