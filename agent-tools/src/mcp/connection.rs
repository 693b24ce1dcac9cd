//! One MCP server and its connection, shared by every session: opened at start-up (bounded),
//! and again on the call after it broke — a stdio child that died, an HTTP server that went
//! away — so one failed call is all a broken connection costs. What the server offers is in
//! `tool_list`, a call's life in `tool_call`.

use std::collections::HashMap;
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
    /// An HTTP server's configured headers, parsed once and marked sensitive.
    headers: HashMap<HeaderName, HeaderValue>,
    /// The invocation headers an HTTP server receives with each call.
    pub(super) forward_headers: Vec<HeaderName>,
}

impl McpServer {
    /// Connects (within the configuration's connect timeout) and reads the tool list.
    pub async fn connect(config: McpServerConfig) -> Result<Arc<Self>, McpError> {
        let (headers, forward_headers) = parse_headers(&config)?;
        let server = Self {
            connection: Mutex::new(None),
            offered: std::sync::RwLock::new(Vec::new()),
            generation: AtomicU64::new(0),
            reading_list: Mutex::new(()),
            list_changed: Arc::new(AtomicBool::new(false)),
            announced: Arc::new(Notify::new()),
            headers,
            forward_headers,
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
            McpTransport::Http { url, .. } => {
                let transport = StreamableHttpClientTransport::with_client(
                    ForwardingClient::default(),
                    StreamableHttpClientTransportConfig::with_uri(url.as_str())
                        .custom_headers(self.headers.clone()),
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

/// An HTTP server's headers and forwarded header names, checked once; none for stdio.
fn parse_headers(
    config: &McpServerConfig,
) -> Result<(HashMap<HeaderName, HeaderValue>, Vec<HeaderName>), McpError> {
    let McpTransport::Http {
        headers,
        forward_headers,
        ..
    } = &config.transport
    else {
        return Ok((HashMap::new(), Vec::new()));
    };
    let invalid = |what: &str, name: &str| McpError::Config {
        server: config.name.clone(),
        reason: format!("{what} `{name}` is not valid"),
    };
    let headers = headers
        .iter()
        .map(|(name, value)| {
            let parsed =
                HeaderName::try_from(name.as_str()).map_err(|_| invalid("header name", name))?;
            let mut value = HeaderValue::try_from(value.as_str())
                .map_err(|_| invalid("the value of header", name))?;
            value.set_sensitive(true);
            Ok((parsed, value))
        })
        .collect::<Result<_, McpError>>()?;
    let forward_headers = forward_headers
        .iter()
        .map(|name| HeaderName::try_from(name.as_str()).map_err(|_| invalid("header name", name)))
        .collect::<Result<_, _>>()?;
    Ok((headers, forward_headers))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_invalid_header_is_refused_before_connecting_naming_it() {
        let mut config = McpServerConfig::http("gateway", "http://127.0.0.1:9/mcp");
        if let McpTransport::Http { headers, .. } = &mut config.transport {
            headers.insert("bad header".into(), "x".into());
        }
        let error = McpServer::connect(config).await.err().expect("refused");
        assert_eq!(
            error.to_string(),
            "MCP server `gateway`: header name `bad header` is not valid"
        );

        let mut config = McpServerConfig::http("gateway", "http://127.0.0.1:9/mcp");
        if let McpTransport::Http {
            forward_headers, ..
        } = &mut config.transport
        {
            forward_headers.push("x-user\n".into());
        }
        let error = McpServer::connect(config).await.err().expect("refused");
        assert!(matches!(error, McpError::Config { .. }), "{error}");
    }
}
