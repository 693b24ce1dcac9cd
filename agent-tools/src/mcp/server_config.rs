//! How to reach one MCP server and which of its tools to offer.

use std::collections::BTreeMap;
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};

/// The default bound on one tool call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The default bound on connecting and listing tools at start-up.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// One MCP server an agent uses.
#[derive(Debug, Clone)]
pub struct McpServerConfig {
    /// Names the server in messages, and prefixes its tools' names unless `prefix` is off.
    pub name: String,
    /// How to reach it.
    pub transport: McpTransport,
    /// Whether the model sees `name_tool` (the default) or the tool's own name.
    pub prefix: bool,
    /// Which of its tools to offer.
    pub filter: ToolFilter,
    /// The bound on one call; past it the call is cancelled on the server and the model told.
    pub call_timeout: Duration,
    /// The bound on connecting and listing tools.
    pub connect_timeout: Duration,
    /// Whether the agent starts without this server when it cannot be reached.
    pub optional: bool,
}

/// The two transports of MCP.
#[derive(Clone)]
pub enum McpTransport {
    /// A child process speaking MCP on its stdin and stdout; it ends with the connection.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Variables added to the inherited environment.
        env: BTreeMap<String, String>,
    },
    /// Streamable HTTP at a URL.
    Http {
        /// The endpoint, `https://…/mcp`.
        url: String,
        /// Headers sent with every request (credentials among them: never logged).
        headers: BTreeMap<String, String>,
        /// Headers of the invocation sent with each call it makes, lower-case names: the
        /// calling user's token, say. Never shared between calls.
        forward_headers: Vec<String>,
    },
}

impl std::fmt::Debug for McpTransport {
    /// Header and environment values are left out: they hold credentials.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdio { command, args, env } => formatter
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .field("env", &env.keys().collect::<Vec<_>>())
                .finish(),
            Self::Http {
                url,
                headers,
                forward_headers,
            } => formatter
                .debug_struct("Http")
                .field("url", url)
                .field("headers", &headers.keys().collect::<Vec<_>>())
                .field("forward_headers", forward_headers)
                .finish(),
        }
    }
}

impl McpServerConfig {
    /// A server run as `command args…`, every tool offered, prefixed with `name`.
    pub fn stdio(
        name: impl Into<String>,
        command: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self::new(
            name,
            McpTransport::Stdio {
                command: command.into(),
                args: args.into_iter().map(Into::into).collect(),
                env: BTreeMap::new(),
            },
        )
    }

    /// A server at `url` over streamable HTTP, every tool offered, prefixed with `name`.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(
            name,
            McpTransport::Http {
                url: url.into(),
                headers: BTreeMap::new(),
                forward_headers: Vec::new(),
            },
        )
    }

    /// A server reached by `transport`, every tool offered, prefixed with `name`.
    pub fn new(name: impl Into<String>, transport: McpTransport) -> Self {
        Self {
            name: name.into(),
            transport,
            prefix: true,
            filter: ToolFilter::default(),
            call_timeout: DEFAULT_CALL_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            optional: false,
        }
    }
}

/// Which tools of a server are offered: those matching an allow-list of globs (all when it is
/// empty) and no exclusion glob, matched against the server's own names.
#[derive(Debug, Clone, Default)]
pub struct ToolFilter {
    allow: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl ToolFilter {
    /// A filter from `tools` (allow) and `exclude_tools` globs, `*`, `?` and `[…]` as in shells.
    pub fn new(allow: &[String], exclude: &[String]) -> Result<Self, globset::Error> {
        Ok(Self {
            allow: glob_set(allow)?,
            exclude: glob_set(exclude)?,
        })
    }

    /// Whether the tool the server calls `name` is offered.
    pub fn allows(&self, name: &str) -> bool {
        self.allow.as_ref().is_none_or(|allow| allow.is_match(name))
            && !self
                .exclude
                .as_ref()
                .is_some_and(|exclude| exclude.is_match(name))
    }
}

fn glob_set(patterns: &[String]) -> Result<Option<GlobSet>, globset::Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        set.add(Glob::new(pattern)?);
    }
    set.build().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn the_filter_allows_by_glob_and_excludes_after() {
        let filter =
            ToolFilter::new(&strings(&["search_*", "get_order"]), &strings(&["*_raw"])).unwrap();
        assert!(filter.allows("search_docs"));
        assert!(filter.allows("get_order"));
        assert!(!filter.allows("get_orders"));
        assert!(!filter.allows("search_raw"));
        let everything = ToolFilter::default();
        assert!(everything.allows("anything.at/all"));
    }

    #[test]
    fn credentials_stay_out_of_debug_output() {
        let mut config = McpServerConfig::http("gateway", "https://example.com/mcp");
        if let McpTransport::Http { headers, .. } = &mut config.transport {
            headers.insert("authorization".into(), "Bearer secret-token".into());
        }
        let shown = format!("{config:?}");
        assert!(shown.contains("authorization"), "{shown}");
        assert!(!shown.contains("secret-token"), "{shown}");
    }
}
