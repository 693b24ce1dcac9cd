//! The tutorial's tools — calculator, weather, get_time — as an MCP server.
//!
//! `agent-tools-mcp` speaks MCP on stdin and stdout (for a client that starts it);
//! `agent-tools-mcp --http [HOST:]PORT` serves streamable HTTP at `/mcp` instead, as AgentCore
//! Runtime runs MCP servers (`--http` alone: `0.0.0.0:8000`). Logs go to stderr.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use agent_tools::mcp::{DEFAULT_HTTP_ADDRESS, ToolServer};
use agent_tools::{Clock, tutorial_tools};
use clap::Parser;
use tokio_util::sync::CancellationToken;

/// Serve calculator, weather and get_time over MCP.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Serve streamable HTTP at /mcp on HOST:PORT, or PORT on all interfaces, instead of stdio
    /// (the flag alone: 0.0.0.0:8000).
    #[arg(long, value_name = "[HOST:]PORT", num_args = 0..=1, default_missing_value = "0.0.0.0:8000", value_parser = parse_address)]
    http: Option<SocketAddr>,
    /// get_time's clock: `local` (the machine's time), or a fixed `YYYY-MM-DD HH:MM:SS`.
    #[arg(long, default_value = "local", value_parser = parse_clock)]
    clock: Clock,
}

fn parse_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    text.parse().map_err(|_| {
        format!("`{text}` is neither a port nor HOST:PORT (default {DEFAULT_HTTP_ADDRESS})")
    })
}

fn parse_clock(text: &str) -> Result<Clock, String> {
    if text == "local" {
        return Ok(Clock::Local);
    }
    Clock::fixed_at(text)
        .map_err(|_| format!("`{text}` is neither `local` nor a time `YYYY-MM-DD HH:MM:SS`"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let server =
        ToolServer::new(tutorial_tools(args.clock)).expect("the tutorial's tools register");
    let Some(address) = args.http else {
        return server.serve_stdio().await;
    };
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind(address).await?;
    eprintln!(
        "agent-tools-mcp: MCP over streamable HTTP at http://{}/mcp",
        listener.local_addr()?
    );
    let stop = shutdown.clone();
    axum::serve(listener, server.http_router(shutdown.child_token()))
        .with_graceful_shutdown(async move {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM can be handled");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            stop.cancel();
        })
        .await
}
