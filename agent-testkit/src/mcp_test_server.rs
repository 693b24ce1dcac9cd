//! An MCP server made to try clients on: tools whose names Bedrock refuses, schemas with
//! `$ref` and with none, images, `isError`, structured content, a call that never answers, a
//! tool that ends the process, two that change the tool list, and one that says which
//! `Authorization` header reached it. Served over stdio (the `mcp-test-server` binary) or over
//! streamable HTTP on a loopback port, in the test's own process, where what it saw can be read.

use agent_core::sync::lock;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData, ImageContent,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    TextContent, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};

use crate::restartable_port::RestartablePort;

/// The tool whose name is too long for Bedrock: 90 characters.
pub fn long_tool_name() -> String {
    format!("{}_report", "quarterly".repeat(9))
}

/// A 1×1 transparent PNG, what `chart` returns.
pub const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// What the server saw, shared by every connection to it.
#[derive(Debug, Default)]
pub struct Seen {
    /// Tool calls by name, in order.
    pub calls: Vec<String>,
    /// Request ids of calls cancelled by the client.
    pub cancelled: Vec<String>,
    /// Whether `forget_echo` ran: `echo.text` is no longer listed.
    pub echo_forgotten: bool,
    /// Whether `add_tool` ran: `added` is listed.
    pub tool_added: bool,
}

/// The test server's handler.
#[derive(Clone, Default)]
pub struct TestMcpServer {
    seen: Arc<Mutex<Seen>>,
}

impl TestMcpServer {
    /// What the server saw so far.
    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        lock(&self.seen)
    }

    /// Serves one client on stdin and stdout until it disconnects.
    pub async fn serve_stdio(self) -> std::io::Result<()> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(std::io::Error::other)?;
        running.waiting().await.map_err(std::io::Error::other)?;
        Ok(())
    }

    /// Serves stateless streamable HTTP at `/mcp` on an ephemeral loopback port.
    pub async fn serve_http(&self) -> HttpMcpServer {
        HttpMcpServer {
            handler: self.clone(),
            port: RestartablePort::serve(self.router()).await,
        }
    }

    fn router(&self) -> axum::Router {
        let handler = self.clone();
        let service = StreamableHttpService::new(
            move || Ok(handler.clone()),
            Arc::new(NeverSessionManager::default()),
            StreamableHttpServerConfig::default()
                .with_legacy_session_mode(false)
                .with_json_response(true),
        );
        axum::Router::new().nest_service("/mcp", service)
    }

    fn listed(&self) -> Vec<Tool> {
        let object = |value: Value| Arc::new(value.as_object().cloned().unwrap_or_default());
        let mut tools = vec![
            Tool::new(
                "echo.text",
                "Repeats a message.",
                object(json!({
                    "type": "object",
                    "properties": {"message": {"$ref": "#/$defs/Message"}},
                    "required": ["message"],
                    "$defs": {"Message": {"type": "string", "minLength": 1, "description": "what to repeat"}}
                })),
            ),
            Tool::new(
                long_tool_name(),
                "Reports the quarter.",
                object(json!({"type": "object"})),
            ),
            Tool::new("no_schema", "Takes nothing.", Arc::new(Map::new())),
            Tool::new("chart", "Draws a chart.", object(json!({"type": "object"}))),
            Tool::new("fail", "Always fails.", object(json!({"type": "object"}))),
            Tool::new(
                "structured",
                "Answers with structured content.",
                object(json!({"type": "object"})),
            ),
            Tool::new("hang", "Never answers.", object(json!({"type": "object"}))),
            Tool::new(
                "whoami",
                "Says which Authorization header it received.",
                object(json!({"type": "object"})),
            ),
            Tool::new(
                "exit",
                "Ends the server's process.",
                object(json!({"type": "object"})),
            ),
            Tool::new(
                "forget_echo",
                "Stops offering echo.text.",
                object(json!({"type": "object"})),
            ),
            Tool::new(
                "add_tool",
                "Starts offering `added`.",
                object(json!({"type": "object"})),
            ),
        ];
        if self.seen().tool_added {
            tools.push(Tool::new(
                "added",
                "Added while running.",
                object(json!({"type": "object"})),
            ));
        }
        if self.seen().echo_forgotten {
            tools.retain(|tool| tool.name != "echo.text");
        }
        tools
    }
}

fn text(text: impl Into<String>) -> ContentBlock {
    ContentBlock::Text(TextContent::new(text))
}

impl ServerHandler for TestMcpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new("mcp-test-server", "1.0.0"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.listed()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        self.seen().calls.push(name.clone());
        let arguments = request.arguments.unwrap_or_default();
        let result = match name.as_str() {
            "echo.text" if !self.seen().echo_forgotten => CallToolResult::success(vec![text(
                arguments
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )]),
            "no_schema" => CallToolResult::success(vec![text("nothing needed")]),
            "chart" => CallToolResult::success(vec![
                text("the chart:"),
                ContentBlock::Image(ImageContent::new(STANDARD.encode(PIXEL_PNG), "image/png")),
            ]),
            "fail" => CallToolResult::error(vec![text("order o-9 does not exist")]),
            "structured" => {
                let value = json!({"temperature": 21.5, "unit": "C"});
                let mut result = CallToolResult::structured(value.clone());
                result.content = vec![text(value.to_string())];
                result
            }
            "hang" => {
                context.ct.cancelled().await;
                self.seen().cancelled.push(context.id.to_string());
                return Err(ErrorData::internal_error("cancelled", None));
            }
            "whoami" => {
                let authorization = context
                    .extensions
                    .get::<http::request::Parts>()
                    .and_then(|parts| parts.headers.get("authorization"))
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("nobody")
                    .to_owned();
                CallToolResult::success(vec![text(authorization)])
            }
            "exit" => std::process::exit(3),
            "add_tool" => {
                self.seen().tool_added = true;
                let _ = context.peer.notify_tool_list_changed().await;
                CallToolResult::success(vec![text("`added` is offered")])
            }
            "added" if self.seen().tool_added => {
                CallToolResult::success(vec![text("new and working")])
            }
            "forget_echo" => {
                self.seen().echo_forgotten = true;
                let _ = context.peer.notify_tool_list_changed().await;
                CallToolResult::success(vec![text("echo.text is gone")])
            }
            other if other == long_tool_name() => {
                CallToolResult::success(vec![text("Q3 was good")])
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("unknown tool `{other}`"),
                    None,
                ));
            }
        };
        Ok(CallToolResponse::Complete(result))
    }
}

/// The test server on a loopback port; stop and resume it to break connections.
pub struct HttpMcpServer {
    handler: TestMcpServer,
    port: RestartablePort,
}

impl HttpMcpServer {
    /// The endpoint, `http://127.0.0.1:PORT/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.port.address())
    }

    /// What the server saw.
    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        self.handler.seen()
    }

    /// Closes the port and every open connection.
    pub fn stop(&self) {
        self.port.stop();
    }

    /// Serves again on the same port.
    pub async fn resume(&self) {
        self.port.resume().await;
    }
}
