//! What the runtime knows of the request an invocation serves — its id, the headers forwarded
//! to the agent, the workload access token, the verified caller — so that it reaches every tool the turn calls,
//! from the runtime and never from the model's input.

use std::collections::BTreeMap;
use std::fmt;

use crate::caller::VerifiedCaller;

/// The request behind a turn. Its `Debug` form names the headers but shows none of their values
/// and not the token, so logging it never writes a secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// The runtime request id.
    pub request_id: String,
    /// The headers forwarded to the agent, by the runtime's rule.
    pub headers: BTreeMap<String, String>,
    /// AgentCore Identity's workload access token, for tools that call a user's APIs.
    pub workload_access_token: Option<String>,
    /// The caller, when the runtime verified its token; its user owns the session.
    pub caller: Option<VerifiedCaller>,
}

impl fmt::Debug for RequestInfo {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RequestInfo")
            .field("request_id", &self.request_id)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field(
                "workload_access_token",
                &self.workload_access_token.as_ref().map(|_| "…"),
            )
            .field("caller", &self.caller)
            .finish()
    }
}
