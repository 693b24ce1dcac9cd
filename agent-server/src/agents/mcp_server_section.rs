//! One `[[mcp_servers]]` table of an agent file: an MCP server whose tools the agent offers.
//!
//! ```toml
//! [[mcp_servers]]
//! name = "docs"                    # required; its tools appear as docs_<tool>
//! command = "uvx"                  # stdio: a child process …
//! args = ["awslabs.aws-documentation-mcp-server@latest"]
//! env = { FASTMCP_LOG_LEVEL = "ERROR" }
//!
//! [[mcp_servers]]
//! name = "gateway"
//! url = "https://example.gateway.bedrock-agentcore.us-west-2.amazonaws.com/mcp"   # … or HTTP
//! headers = { Authorization = "Bearer ${GATEWAY_TOKEN}" }
//! forward_headers = ["authorization"]
//! tools = ["search_*", "get_order"]
//! exclude_tools = ["*_admin"]
//! prefix = true                    # false: the tools' own names
//! timeout_secs = 30                # per call; 60
//! optional = false                 # true: start without it when it cannot be reached
//! ```
//!
//! `${VAR}` in `command`, `args`, `env`, `url` and `headers` is read from the environment at
//! start-up; a variable that is not set stops start-up, naming it (never its value). A table
//! that cannot work (both or neither of `command` and `url`, headers for a stdio server, a
//! timeout out of range, a bad glob) is refused when the file is read.

use std::collections::BTreeMap;
use std::time::Duration;

use agent_tools::mcp::{McpServerConfig, McpTransport, ToolFilter};
use serde::Deserialize;

/// One `[[mcp_servers]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerSection {
    /// Names the server in messages and prefixes its tools.
    pub name: String,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    forward_headers: Vec<String>,
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    exclude_tools: Vec<String>,
    #[serde(default = "prefixed")]
    prefix: bool,
    #[serde(default)]
    timeout_secs: Option<u64>,
    /// Whether the agent starts without the server when it cannot be reached.
    #[serde(default)]
    pub optional: bool,
}

fn prefixed() -> bool {
    true
}

impl McpServerSection {
    /// What is wrong with the table on its own, if anything.
    pub(crate) fn check(&self) -> Result<(), String> {
        let name = &self.name;
        if name.trim().is_empty() {
            return Err("an MCP server needs a `name`".to_owned());
        }
        match (&self.command, &self.url) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "MCP server `{name}`: `command` and `url` exclude each other"
                ));
            }
            (None, None) => {
                return Err(format!(
                    "MCP server `{name}` needs a `command` (stdio) or a `url` (HTTP)"
                ));
            }
            (Some(_), None) if !self.headers.is_empty() || !self.forward_headers.is_empty() => {
                return Err(format!(
                    "MCP server `{name}`: `headers` and `forward_headers` need a `url`; a stdio server has no headers"
                ));
            }
            (None, Some(_)) if !self.args.is_empty() || !self.env.is_empty() => {
                return Err(format!(
                    "MCP server `{name}`: `args` and `env` need a `command`"
                ));
            }
            _ => {}
        }
        if let Some(timeout) = self.timeout_secs
            && !(1..=3600).contains(&timeout)
        {
            return Err(format!(
                "MCP server `{name}`: `timeout_secs` must be from 1 to 3600, not {timeout}"
            ));
        }
        ToolFilter::new(&self.tools, &self.exclude_tools)
            .map_err(|error| format!("MCP server `{name}`: {error}"))?;
        Ok(())
    }

    /// The server's configuration, `${VAR}`s read from `environment`.
    pub fn config(
        &self,
        environment: impl Fn(&str) -> Option<String>,
    ) -> Result<McpServerConfig, String> {
        let expand = |text: &str| -> Result<String, String> {
            shellexpand::env_with_context(text, |variable| match environment(variable) {
                Some(value) => Ok(Some(value)),
                None => Err(format!("the environment variable `{variable}` is not set")),
            })
            .map(|expanded| expanded.into_owned())
            .map_err(|error| format!("MCP server `{}`: {}", self.name, error.cause))
        };
        let expand_map =
            |map: &BTreeMap<String, String>| -> Result<BTreeMap<String, String>, String> {
                map.iter()
                    .map(|(key, value)| Ok((key.clone(), expand(value)?)))
                    .collect()
            };
        let transport = match (&self.command, &self.url) {
            (Some(command), _) => McpTransport::Stdio {
                command: expand(command)?,
                args: self
                    .args
                    .iter()
                    .map(|arg| expand(arg))
                    .collect::<Result<_, _>>()?,
                env: expand_map(&self.env)?,
            },
            (None, Some(url)) => McpTransport::Http {
                url: expand(url)?,
                headers: expand_map(&self.headers)?,
                forward_headers: self
                    .forward_headers
                    .iter()
                    .map(|header| header.to_ascii_lowercase())
                    .collect(),
            },
            (None, None) => return Err(format!("MCP server `{}` has no transport", self.name)),
        };
        let mut config = McpServerConfig::new(&self.name, transport);
        config.prefix = self.prefix;
        config.optional = self.optional;
        config.filter = ToolFilter::new(&self.tools, &self.exclude_tools)
            .map_err(|error| format!("MCP server `{}`: {error}", self.name))?;
        if let Some(timeout) = self.timeout_secs {
            config.call_timeout = Duration::from_secs(timeout);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent_file::AgentFile;

    fn servers(text: &str) -> Result<Vec<McpServerSection>, String> {
        AgentFile::parse(text)
            .map(|file| file.mcp_servers)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn reads_both_transports_with_their_options() {
        let sections = servers(
            r#"
[[mcp_servers]]
name = "docs"
command = "uvx"
args = ["awslabs.aws-documentation-mcp-server@latest"]
env = { FASTMCP_LOG_LEVEL = "ERROR" }

[[mcp_servers]]
name = "gateway"
url = "https://${GATEWAY_HOST}/mcp"
headers = { Authorization = "Bearer ${GATEWAY_TOKEN}" }
forward_headers = ["X-User-Token"]
tools = ["search_*", "get_order"]
exclude_tools = ["*_admin"]
prefix = false
timeout_secs = 30
optional = true
"#,
        )
        .unwrap();
        let environment = |variable: &str| match variable {
            "GATEWAY_HOST" => Some("gw.example.com".to_owned()),
            "GATEWAY_TOKEN" => Some("s3cret".to_owned()),
            _ => None,
        };
        let docs = sections[0].config(environment).unwrap();
        assert!(docs.prefix && !docs.optional);
        assert_eq!(docs.call_timeout, Duration::from_secs(60));
        match &docs.transport {
            McpTransport::Stdio { command, args, env } => {
                assert_eq!(command, "uvx");
                assert_eq!(args, &["awslabs.aws-documentation-mcp-server@latest"]);
                assert_eq!(env["FASTMCP_LOG_LEVEL"], "ERROR");
            }
            other => panic!("not stdio: {other:?}"),
        }
        let gateway = sections[1].config(environment).unwrap();
        assert!(!gateway.prefix && gateway.optional);
        assert_eq!(gateway.call_timeout, Duration::from_secs(30));
        assert!(gateway.filter.allows("search_orders") && gateway.filter.allows("get_order"));
        assert!(!gateway.filter.allows("search_admin") && !gateway.filter.allows("delete_order"));
        match &gateway.transport {
            McpTransport::Http {
                url,
                headers,
                forward_headers,
            } => {
                assert_eq!(url, "https://gw.example.com/mcp");
                assert_eq!(headers["Authorization"], "Bearer s3cret");
                assert_eq!(forward_headers, &["x-user-token"]);
            }
            other => panic!("not HTTP: {other:?}"),
        }
        assert!(!format!("{gateway:?}").contains("s3cret"));
    }

    #[test]
    fn a_variable_not_set_is_named_and_no_value_is_shown() {
        let sections = servers(
            r#"
[[mcp_servers]]
name = "gateway"
url = "https://gw.example.com/mcp"
headers = { Authorization = "Bearer ${GATEWAY_TOKEN}", X-Other = "${OTHER}" }
"#,
        )
        .unwrap();
        let error = sections[0]
            .config(|variable| (variable == "OTHER").then(|| "visible-value".to_owned()))
            .unwrap_err();
        assert_eq!(
            error,
            "MCP server `gateway`: the environment variable `GATEWAY_TOKEN` is not set"
        );
    }

    #[test]
    fn tables_that_cannot_work_are_refused_at_load() {
        for (table, expected) in [
            (
                "name = \"a\"",
                "MCP server `a` needs a `command` (stdio) or a `url` (HTTP)",
            ),
            (
                "name = \"a\"\ncommand = \"x\"\nurl = \"http://h/mcp\"",
                "MCP server `a`: `command` and `url` exclude each other",
            ),
            (
                "name = \"a\"\ncommand = \"x\"\nforward_headers = [\"authorization\"]",
                "MCP server `a`: `headers` and `forward_headers` need a `url`; a stdio server has no headers",
            ),
            (
                "name = \"a\"\nurl = \"http://h/mcp\"\nargs = [\"-v\"]",
                "MCP server `a`: `args` and `env` need a `command`",
            ),
            (
                "name = \"a\"\nurl = \"http://h/mcp\"\ntimeout_secs = 0",
                "MCP server `a`: `timeout_secs` must be from 1 to 3600, not 0",
            ),
            (
                "name = \" \"\nurl = \"http://h/mcp\"",
                "an MCP server needs a `name`",
            ),
        ] {
            assert_eq!(
                servers(&format!("[[mcp_servers]]\n{table}")).unwrap_err(),
                expected
            );
        }
        let twice = "[[mcp_servers]]\nname = \"a\"\nurl = \"http://h/mcp\"\n[[mcp_servers]]\nname = \"a\"\ncommand = \"x\"";
        assert_eq!(
            servers(twice).unwrap_err(),
            "MCP server `a` is listed twice"
        );
        let bad_glob =
            servers("[[mcp_servers]]\nname = \"a\"\nurl = \"http://h/mcp\"\ntools = [\"[\"]")
                .unwrap_err();
        assert!(bad_glob.starts_with("MCP server `a`: "), "{bad_glob}");
        let unknown = servers("[[mcp_servers]]\nname = \"a\"\nurl = \"http://h/mcp\"\ntimeout = 3")
            .unwrap_err();
        assert!(unknown.contains("unknown field `timeout`"), "{unknown}");
    }
}
