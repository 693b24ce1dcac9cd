//! One MCP server and its connection, shared by every session: opened at start-up (bounded),
//! and again on the call after it broke — a stdio child that died, an HTTP server that went
//! away — so one failed call is all a broken connection costs. What the server offers is in
//! `tool_list`, a call's life in `tool_call`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use http::{HeaderName, HeaderValue};
use rmcp::model::{ClientConfig, Implementation};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, Peer, RoleClient, ServiceExt};
use tokio::sync::{Mutex, Notify};

use super::error::McpError;
use super::forwarded_headers::ForwardingClient;
use super::server_config::{McpServerConfig, McpTransport};
use super::tool_list::{Offered, follow_announcements};

/// A connected MCP server whose tools an agent can use.
pub struct McpServer {
    pub(super) config: McpServerConfig,
    connection: Mutex<Option<RunningService<RoleClient, Listener>>>,
    pub(super) offered: std::sync::RwLock<Vec<Offered>>,
    /// Counts changes of `offered`, for the agents following the server's tools.
    pub(super) generation: AtomicU64,
    /// Held while the list is read, so a call waits for a list being read to check its tool.
    pub(super) reading_list: Mutex<()>,
    pub(super) list_changed: Arc<AtomicBool>,
    announced: Arc<Notify>,
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

    /// The server's name, as configured.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Closes the connection: a stdio child is asked to exit, then ended.
    pub async fn close(&self) {
        if let Some(mut connection) = self.connection.lock().await.take() {
            let _ = connection.close().await;
        }
    }

    /// The live connection's peer, connecting first when there is none or it broke.
    pub(super) async fn peer(&self) -> Result<Peer<RoleClient>, McpError> {
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

    pub(super) fn unreachable(&self, reason: String) -> McpError {
        McpError::Unreachable {
            server: self.config.name.clone(),
            reason,
        }
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
