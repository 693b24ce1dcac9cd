//! One MCP server: its connection, shared by every session, and its tool list.
//!
//! The connection is opened at start-up (bounded), and again on the call after it broke — a
//! stdio child that died, an HTTP server that went away — so one failed call is all a
//! broken connection costs. `notifications/tools/list_changed` has the list read again at once,
//! and an agent that took the server as a [`ToolSource`] offers the new list from its next model
//! call; a tool the server no longer lists answers with an error result.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use agent_core::{Tool, ToolContext, ToolError, ToolOutput, ToolSource};
use http::{HeaderName, HeaderValue};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotificationParam, ClientConfig,
    ClientRequest, GetExtensions, Implementation, RequestId, ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, Peer, RoleClient, ServiceError, ServiceExt};
use serde_json::Value;
use thiserror::Error;
use tokio::sync::{Mutex, Notify};

use super::call_result;
use super::forwarded_headers::{ForwardedHeaders, ForwardingClient};
use super::input_schema;
use super::remote_tool::McpTool;
use super::server_config::{McpServerConfig, McpTransport};
use super::tool_names::model_tool_name;

/// Why a server could not be used.
#[derive(Debug, Error)]
pub enum McpError {
    /// It could not be started or reached, or did not complete the handshake.
    #[error("MCP server `{server}` could not be reached: {reason}")]
    Unreachable {
        /// The server's name.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// Two of its tools fit to the same name for the model.
    #[error(
        "MCP server `{server}`: tools `{first}` and `{second}` would both be offered as `{name}`"
    )]
    NameClash {
        /// The server's name.
        server: String,
        /// The first tool, as the server names it.
        first: String,
        /// The second tool, as the server names it.
        second: String,
        /// The name both fit to.
        name: String,
    },
    /// Its configuration cannot work.
    #[error("MCP server `{server}`: {reason}")]
    Config {
        /// The server's name.
        server: String,
        /// What is wrong.
        reason: String,
    },
}

/// A connected MCP server whose tools an agent can use.
pub struct McpServer {
    config: McpServerConfig,
    connection: Mutex<Option<RunningService<RoleClient, Listener>>>,
    offered: std::sync::RwLock<Vec<Offered>>,
    /// Counts changes of `offered`, for the agents following the server's tools.
    generation: AtomicU64,
    /// Held while the list is read, so a call waits for a list being read to check its tool.
    reading_list: Mutex<()>,
    list_changed: Arc<AtomicBool>,
    announced: Arc<Notify>,
}

/// A tool of the server's list that the filter lets through.
#[derive(Debug, Clone, PartialEq)]
struct Offered {
    remote_name: String,
    spec: agent_core::ToolSpec,
}

impl McpServer {
    /// Connects (within the configuration's connect timeout) and reads the tool list.
    pub async fn connect(config: McpServerConfig) -> Result<Arc<Self>, McpError> {
        if let McpTransport::Http {
            headers,
            forward_headers,
            ..
        } = &config.transport
        {
            for name in headers.keys().chain(forward_headers) {
                HeaderName::try_from(name.as_str()).map_err(|_| McpError::Config {
                    server: config.name.clone(),
                    reason: format!("`{name}` is not a valid header name"),
                })?;
            }
        }
        let server = Self {
            connection: Mutex::new(None),
            offered: std::sync::RwLock::new(Vec::new()),
            generation: AtomicU64::new(0),
            reading_list: Mutex::new(()),
            list_changed: Arc::new(AtomicBool::new(false)),
            announced: Arc::new(Notify::new()),
            config,
        };
        let peer = server.peer().await?;
        server.read_tool_list(&peer).await?;
        let server = Arc::new(server);
        tokio::spawn(follow_announcements(
            Arc::downgrade(&server),
            Arc::clone(&server.announced),
        ));
        Ok(server)
    }

    /// The server's tools as an agent follows them: the list it has now, and each new one the
    /// server announces.
    pub fn tool_source(self: &Arc<Self>) -> Arc<dyn ToolSource> {
        Arc::new(Followed(Arc::clone(self)))
    }

    /// The server's name, as configured.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Its tools that the filter offers, as the model will see them.
    pub fn tools(self: &Arc<Self>) -> Vec<Arc<dyn Tool>> {
        self.mcp_tools()
            .into_iter()
            .map(|tool| tool as Arc<dyn Tool>)
            .collect()
    }

    /// [`McpServer::tools`], each still saying which server and remote tool it is.
    pub fn mcp_tools(self: &Arc<Self>) -> Vec<Arc<McpTool>> {
        self.offered
            .read()
            .expect("the tool list is never left half-written")
            .iter()
            .map(|offered| {
                Arc::new(McpTool::new(
                    Arc::clone(self),
                    offered.remote_name.clone(),
                    offered.spec.clone(),
                ))
            })
            .collect()
    }

    /// Closes the connection: a stdio child is asked to exit, then ended.
    pub async fn close(&self) {
        if let Some(mut connection) = self.connection.lock().await.take() {
            let _ = connection.close().await;
        }
    }

    /// The live connection's peer, connecting first when there is none or it broke.
    async fn peer(&self) -> Result<Peer<RoleClient>, McpError> {
        let mut connection = self.connection.lock().await;
        if let Some(live) = connection.as_ref()
            && !live.is_closed()
            && !live.peer().is_transport_closed()
        {
            return Ok(live.peer().clone());
        }
        if connection.take().is_some() {
            tracing::warn!(server = %self.config.name, "MCP connection lost; connecting again");
            self.list_changed.store(true, Ordering::Release);
        }
        let opened = tokio::time::timeout(self.config.connect_timeout, self.open())
            .await
            .map_err(|_| {
                self.unreachable(format!(
                    "no answer within {} s",
                    self.config.connect_timeout.as_secs_f64()
                ))
            })??;
        let peer = opened.peer().clone();
        *connection = Some(opened);
        Ok(peer)
    }

    async fn open(&self) -> Result<RunningService<RoleClient, Listener>, McpError> {
        let listener = Listener {
            list_changed: Arc::clone(&self.list_changed),
            announced: Arc::clone(&self.announced),
        };
        match &self.config.transport {
            McpTransport::Stdio { command, args, env } => {
                let mut command_line = tokio::process::Command::new(command);
                command_line.args(args).envs(env).kill_on_drop(true);
                let transport = TokioChildProcess::new(command_line)
                    .map_err(|error| self.unreachable(format!("`{command}`: {error}")))?;
                listener
                    .serve(transport)
                    .await
                    .map_err(|error| self.unreachable(error.to_string()))
            }
            McpTransport::Http { url, headers, .. } => {
                let custom_headers = headers
                    .iter()
                    .map(|(name, value)| {
                        let parsed_name = HeaderName::try_from(name.as_str());
                        let parsed_value = HeaderValue::try_from(value.as_str());
                        match (parsed_name, parsed_value) {
                            (Ok(name), Ok(mut value)) => {
                                value.set_sensitive(true);
                                Ok((name, value))
                            }
                            _ => Err(McpError::Config {
                                server: self.config.name.clone(),
                                reason: format!("header `{name}` has an invalid name or value"),
                            }),
                        }
                    })
                    .collect::<Result<_, _>>()?;
                let transport = StreamableHttpClientTransport::with_client(
                    ForwardingClient::default(),
                    StreamableHttpClientTransportConfig::with_uri(url.as_str())
                        .custom_headers(custom_headers),
                );
                listener
                    .serve(transport)
                    .await
                    .map_err(|error| self.unreachable(error.to_string()))
            }
        }
    }

    /// Reads the whole tool list and keeps what the filter offers, fitted for Bedrock.
    async fn read_tool_list(&self, peer: &Peer<RoleClient>) -> Result<(), McpError> {
        let _reading = self.reading_list.lock().await;
        self.list_changed.store(false, Ordering::Release);
        let listed = tokio::time::timeout(self.config.connect_timeout, peer.list_all_tools())
            .await
            .map_err(|_| self.unreachable("tools/list timed out".to_owned()))?
            .map_err(|error| self.unreachable(format!("tools/list failed: {error}")))?;
        let prefix = self.config.prefix.then_some(self.config.name.as_str());
        let mut offered: Vec<Offered> = Vec::new();
        for tool in listed {
            if !self.config.filter.allows(&tool.name) {
                continue;
            }
            let input_schema = match input_schema::for_bedrock(&tool.input_schema) {
                Ok(schema) => schema,
                Err(reason) => {
                    tracing::warn!(server = %self.config.name, tool = %tool.name, "MCP tool left out: {reason}");
                    continue;
                }
            };
            let name = model_tool_name(prefix, &tool.name);
            if let Some(earlier) = offered.iter().find(|earlier| earlier.spec.name == name) {
                return Err(McpError::NameClash {
                    server: self.config.name.clone(),
                    first: earlier.remote_name.clone(),
                    second: tool.name.into_owned(),
                    name,
                });
            }
            offered.push(Offered {
                spec: agent_core::ToolSpec {
                    name,
                    description: tool
                        .description
                        .map(|description| description.into_owned())
                        .or(tool.title)
                        .unwrap_or_else(|| format!("The `{}` tool", tool.name)),
                    input_schema,
                },
                remote_name: tool.name.into_owned(),
            });
        }
        let mut current = self
            .offered
            .write()
            .expect("the tool list is never left half-written");
        if *current != offered {
            *current = offered;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Calls `remote_name` with `input` for the invocation of `context`.
    pub(crate) async fn call(
        &self,
        remote_name: &str,
        input: Value,
        context: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let server = &self.config.name;
        let peer = self
            .peer()
            .await
            .map_err(|error| ToolError::new(error.to_string()))?;
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
        let timeout = self.config.call_timeout;
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

    fn offers(&self, remote_name: &str) -> bool {
        self.offered
            .read()
            .expect("the tool list is never left half-written")
            .iter()
            .any(|offered| offered.remote_name == remote_name)
    }

    /// The invocation's headers this server is to receive with the call.
    fn forwarded(&self, context: &ToolContext) -> ForwardedHeaders {
        let McpTransport::Http {
            forward_headers, ..
        } = &self.config.transport
        else {
            return ForwardedHeaders::default();
        };
        ForwardedHeaders(
            forward_headers
                .iter()
                .filter_map(|name| {
                    let value = context
                        .headers()
                        .iter()
                        .find_map(|(key, value)| key.eq_ignore_ascii_case(name).then_some(value))?;
                    let mut value = HeaderValue::try_from(value.as_str()).ok()?;
                    value.set_sensitive(true);
                    Some((HeaderName::try_from(name.as_str()).ok()?, value))
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

    fn unreachable(&self, reason: String) -> McpError {
        McpError::Unreachable {
            server: self.config.name.clone(),
            reason,
        }
    }
}

/// Reads the list again each time the server announces a change, while the server is in use.
async fn follow_announcements(server: Weak<McpServer>, announced: Arc<Notify>) {
    loop {
        announced.notified().await;
        let Some(server) = server.upgrade() else {
            return;
        };
        let refreshed = match server.peer().await {
            Ok(peer) => server.read_tool_list(&peer).await,
            Err(error) => Err(error),
        };
        if let Err(error) = refreshed {
            tracing::warn!(server = %server.config.name, "MCP tool list not refreshed: {error}");
        }
    }
}

/// An MCP server's tools as a [`ToolSource`].
struct Followed(Arc<McpServer>);

impl ToolSource for Followed {
    fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::Acquire)
    }

    fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.0.tools()
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

/// The client side of a connection: who we are, and list changes noted and announced.
struct Listener {
    list_changed: Arc<AtomicBool>,
    announced: Arc<Notify>,
}

impl ClientHandler for Listener {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            Default::default(),
            Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed.store(true, Ordering::Release);
        self.announced.notify_one();
    }
}
