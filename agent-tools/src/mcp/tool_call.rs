//! One call of an MCP tool: with the invocation's forwarded headers, bounded by the server's
//! call timeout, cancelled on the server (`notifications/cancelled`) when it times out or its
//! invocation ends, and every failure an error result for the model.

use std::sync::atomic::Ordering;

use agent_core::{ToolContext, ToolError, ToolOutput};
use http::HeaderValue;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotificationParam, ClientRequest,
    GetExtensions, RequestId, ServerResult,
};
use rmcp::service::PeerRequestOptions;
use rmcp::{Peer, RoleClient, ServiceError};
use serde_json::Value;

use super::call_result;
use super::connection::McpServer;
use super::forwarded_headers::ForwardedHeaders;

impl McpServer {
    /// Calls `remote_name` with `input` for the invocation of `context`.
    pub(crate) async fn call(
        &self,
        remote_name: &str,
        input: Value,
        context: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let server = &self.config.name;
        // Reconnecting counts against the call's own bound, and stops when the invocation ends.
        let timeout = self.config.call_timeout;
        let peer = tokio::select! {
            peer = tokio::time::timeout(timeout, self.peer()) => match peer {
                Ok(peer) => peer.map_err(|error| ToolError::new(error.to_string()))?,
                Err(_) => {
                    return Err(ToolError::new(format!(
                        "MCP server `{server}` could not be reached within {} s",
                        timeout.as_secs_f64()
                    )));
                }
            },
            () = context.cancelled() => {
                return Err(ToolError::new("the invocation ended before the MCP server was reached"));
            }
        };
        if self.list_changed.load(Ordering::Acquire)
            && let Err(error) = self.read_tool_list(&peer).await
        {
            tracing::warn!(server = %server, "MCP tool list not refreshed: {error}");
        }
        // A list being read by the announcement follower is waited for.
        drop(self.reading_list.lock().await);
        if !self.offers(remote_name) {
            return Err(ToolError::new(format!(
                "MCP server `{server}` no longer offers the tool `{remote_name}`"
            )));
        }
        let mut params = CallToolRequestParams::new(remote_name.to_owned());
        if let Value::Object(arguments) = input {
            params = params.with_arguments(arguments);
        }
        let mut request = CallToolRequest::new(params);
        request.extensions_mut().insert(self.forwarded(context));
        let handle = peer
            .send_request_with_option(
                ClientRequest::CallToolRequest(request),
                PeerRequestOptions::no_options(),
            )
            .await
            .map_err(|error| self.lost(error))?;
        let mut abandoned = CancelOnDrop {
            peer: peer.clone(),
            id: Some(handle.id.clone()),
            reason: "the invocation ended",
        };
        let answer = tokio::select! {
            answer = tokio::time::timeout(timeout, handle.await_response()) => answer,
            () = context.cancelled() => {
                return Err(ToolError::new("the invocation ended; the call was cancelled"));
            }
        };
        let Ok(answer) = answer else {
            abandoned.reason = "timed out";
            return Err(ToolError::new(format!(
                "MCP tool `{remote_name}` of server `{server}` did not answer within {} s; the call was cancelled",
                timeout.as_secs_f64()
            )));
        };
        abandoned.id = None;
        match answer {
            Ok(ServerResult::CallToolResult(result)) => call_result::for_model(result),
            Ok(_) => Err(ToolError::new(format!(
                "MCP server `{server}` answered tools/call with something other than a tool result"
            ))),
            Err(ServiceError::McpError(error)) => Err(ToolError::new(format!(
                "MCP server `{server}` refused the call: {}",
                error.message
            ))),
            Err(error) => Err(self.lost(error)),
        }
    }

    /// The invocation's headers this server is to receive with the call.
    fn forwarded(&self, context: &ToolContext) -> ForwardedHeaders {
        ForwardedHeaders(
            self.forward_headers
                .iter()
                .filter_map(|name| {
                    let value = context.headers().iter().find_map(|(key, value)| {
                        key.eq_ignore_ascii_case(name.as_str()).then_some(value)
                    })?;
                    let mut value = HeaderValue::try_from(value.as_str()).ok()?;
                    value.set_sensitive(true);
                    Some((name.clone(), value))
                })
                .collect(),
        )
    }

    /// A failure of the connection itself: the model is told, the next call reconnects.
    fn lost(&self, error: ServiceError) -> ToolError {
        ToolError::new(format!(
            "the connection to MCP server `{}` failed ({error}); it is re-established on the next call",
            self.config.name
        ))
    }
}

/// Sends `notifications/cancelled` for a call abandoned before its answer.
struct CancelOnDrop {
    peer: Peer<RoleClient>,
    id: Option<RequestId>,
    reason: &'static str,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let peer = self.peer.clone();
        let reason = self.reason;
        tokio::spawn(async move {
            let _ = peer
                .notify_cancelled(CancelledNotificationParam::new(
                    Some(id),
                    Some(reason.to_owned()),
                ))
                .await;
        });
    }
}
