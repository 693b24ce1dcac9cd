//! Any `agent_core::Tool`s served over MCP: stdio, or streamable HTTP at `/mcp` in the form
//! AgentCore Runtime's MCP protocol expects — stateless (the `Mcp-Session-Id` and runtime
//! session headers the service adds are accepted and need no session here), JSON responses,
//! any `Host` (the service reaches the container by addresses of its own).
//!
//! A call runs through the same [`ToolRegistry`] an agent uses, so the input is checked against
//! the schema and a failing or panicking tool is an error result (`isError`), never a failed
//! request; only a name the server does not have is a protocol error, as MCP asks.

use std::net::SocketAddr;
use std::sync::Arc;

use agent_core::{
    RegistryError, Tool, ToolContext, ToolRegistry, ToolResultContent, ToolResultStatus, ToolUse,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData, ImageContent,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    TextContent,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

/// Where AgentCore Runtime expects an MCP server: all interfaces, port 8000.
pub const DEFAULT_HTTP_ADDRESS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 8000);

/// An MCP server offering a fixed set of tools.
#[derive(Clone)]
pub struct ToolServer {
    registry: Arc<ToolRegistry>,
    listed: Arc<Vec<rmcp::model::Tool>>,
}

impl ToolServer {
    /// A server of `tools`; their schemas are compiled once, here.
    pub fn new(tools: impl IntoIterator<Item = Arc<dyn Tool>>) -> Result<Self, RegistryError> {
        let mut registry = ToolRegistry::new();
        for tool in tools {
            registry.register(tool)?;
        }
        let listed = registry
            .specs()
            .iter()
            .map(|spec| {
                let schema = match &spec.input_schema {
                    Value::Object(schema) => schema.clone(),
                    _ => Map::new(),
                };
                rmcp::model::Tool::new(
                    spec.name.clone(),
                    spec.description.clone(),
                    Arc::new(schema),
                )
            })
            .collect();
        Ok(Self {
            registry: Arc::new(registry),
            listed: Arc::new(listed),
        })
    }

    /// Serves one client on this process's stdin and stdout until it disconnects.
    pub async fn serve_stdio(self) -> std::io::Result<()> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(std::io::Error::other)?;
        running.waiting().await.map_err(std::io::Error::other)?;
        Ok(())
    }

    /// The streamable-HTTP endpoint, to mount at `/mcp`; `shutdown` ends its streams.
    pub fn http_service(
        self,
        shutdown: CancellationToken,
    ) -> StreamableHttpService<Self, NeverSessionManager> {
        StreamableHttpService::new(
            move || Ok(self.clone()),
            Arc::new(NeverSessionManager::default()),
            StreamableHttpServerConfig::default()
                .with_legacy_session_mode(false)
                .with_json_response(true)
                .disable_allowed_hosts()
                .with_cancellation_token(shutdown),
        )
    }

    /// A router serving [`ToolServer::http_service`] at `/mcp`.
    pub fn http_router(self, shutdown: CancellationToken) -> axum::Router {
        axum::Router::new().nest_service("/mcp", self.http_service(shutdown))
    }
}

impl ServerHandler for ToolServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_server_info(
            Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.listed.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.listed.iter().find(|tool| tool.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if self.get_tool(&request.name).is_none() {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        }
        let tool_use = ToolUse {
            tool_use_id: context.id.to_string(),
            name: request.name.into_owned(),
            input: Value::Object(request.arguments.unwrap_or_default()),
        };
        let tool_context = ToolContext::detached(tool_use.tool_use_id.clone());
        let result = tokio::select! {
            result = self.registry.run(&tool_use, &tool_context) => result,
            () = context.ct.cancelled() => {
                return Err(ErrorData::internal_error("the call was cancelled", None));
            }
        };
        let failed = result.status == ToolResultStatus::Error;
        let content = result
            .content
            .into_iter()
            .map(|block| match block {
                // The registry says `Error: …` to a model; a client adds its own prefix.
                ToolResultContent::Text(text) if failed => ContentBlock::Text(TextContent::new(
                    text.strip_prefix(agent_core::TOOL_ERROR_PREFIX)
                        .unwrap_or(&text)
                        .to_owned(),
                )),
                ToolResultContent::Text(text) => ContentBlock::Text(TextContent::new(text)),
                ToolResultContent::Json(value) => {
                    ContentBlock::Text(TextContent::new(value.to_string()))
                }
                ToolResultContent::Image(image) => ContentBlock::Image(ImageContent::new(
                    STANDARD.encode(&image.source.bytes),
                    image.format.mime_type(),
                )),
            })
            .collect();
        Ok(CallToolResponse::Complete(match result.status {
            ToolResultStatus::Success => CallToolResult::success(content),
            ToolResultStatus::Error => CallToolResult::error(content),
        }))
    }
}
