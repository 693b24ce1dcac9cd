//! `--agent FILE.toml`: an agent defined in a file instead of in Rust — model, system prompt,
//! which of the built-in tools, and Bedrock's inference settings:
//!
//! ```toml
//! name = "assistant"                                        # optional; else the file's name
//! model_id = "eu.anthropic.claude-sonnet-4-20250514-v1:0"   # optional
//! system_prompt = "You are …"                                  # optional
//! tools = ["calculator", "get_time"]                           # any of calculator, weather, get_time
//! [inference]                                                  # optional
//! max_tokens = 512
//! temperature = 0.2
//! top_p = 0.9
//! stop_sequences = ["###"]
//! [long_term_memory]                                           # optional: AgentCore Memory
//! namespaces = ["/strategies/{memoryStrategyId}/actors/{actorId}/"]
//! top_k = 5                                                    # optional; 10
//! min_score = 0.3                                              # optional; 0.2
//! [[mcp_servers]]                                              # optional, repeatable
//! name = "docs"
//! command = "uvx"
//! args = ["awslabs.aws-documentation-mcp-server@latest"]
//! ```
//!
//! The `[[mcp_servers]]` tables are described in [`McpServerSection`](crate::mcp_servers::McpServerSection).
//!
//! A file is read whole at start-up and refused whole: an unknown key, an unknown or repeated
//! tool, a value out of range or an unreadable file stops the server with the file, the line and
//! the problem, rather than serving an agent that is not the one written.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agent_core::{Agent, AgentBuilder, AgentConfig, InferenceConfig, Model, Tool};
use agent_tools::{Calculator, Clock, GetTime, Weather};

use super::mcp_servers::McpServerSection;
use serde::{Deserialize, Deserializer};
use thiserror::Error;
use toml::Spanned;

/// An agent definition read from a file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    /// The agent's name in traces (`gen_ai.agent.name`); the file's name without `.toml` when
    /// absent.
    #[serde(default, deserialize_with = "non_empty")]
    pub name: Option<String>,
    /// The Bedrock model id; the server's `--model-id` when absent.
    #[serde(default, deserialize_with = "non_empty")]
    pub model_id: Option<String>,
    /// The system prompt; none when absent or empty (then no system block is sent).
    #[serde(default)]
    pub system_prompt: String,
    /// The built-in tools offered to the model, in this order.
    #[serde(default)]
    tools: Vec<Spanned<BuiltinTool>>,
    /// Bedrock's `inferenceConfig`; the model's defaults when absent.
    #[serde(default)]
    inference: InferenceSection,
    /// Long-term memories searched with each prompt; none when absent.
    #[serde(default)]
    pub long_term_memory: Option<LongTermMemorySection>,
    /// MCP servers whose tools are offered after the built-in ones, in this order.
    #[serde(default)]
    pub mcp_servers: Vec<McpServerSection>,
}

/// The `[long_term_memory]` table: which AgentCore Memory namespaces are searched with each
/// prompt, and how much of what is found reaches the model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongTermMemorySection {
    /// Namespace templates (`{actorId}`, `{sessionId}`, `{memoryStrategyId}`); at least one.
    #[serde(deserialize_with = "non_empty_list")]
    pub namespaces: Vec<String>,
    /// Records asked for per namespace, 1–100.
    #[serde(default, deserialize_with = "top_k")]
    pub top_k: Option<u32>,
    /// Records scoring lower are left out, 0–1.
    #[serde(default, deserialize_with = "score")]
    pub min_score: Option<f64>,
}

/// The tools an agent file can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinTool {
    /// `calculator`.
    Calculator,
    /// `weather`.
    Weather,
    /// `get_time`.
    GetTime,
}

/// The `[inference]` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct InferenceSection {
    #[serde(default, deserialize_with = "positive")]
    max_tokens: Option<u32>,
    #[serde(default, deserialize_with = "unit_interval")]
    temperature: Option<f32>,
    #[serde(default, deserialize_with = "unit_interval")]
    top_p: Option<f32>,
    #[serde(default)]
    stop_sequences: Vec<String>,
}

/// Why a file's text is not an agent file: its TOML (the line and column included, the
/// parser's error kept as the source), or what the checks after it found.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InvalidAgentFile {
    /// Not TOML, or not the shape of an agent file: unknown keys, wrong types, values out of
    /// range.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A check across the file: a tool or MCP server listed twice, an MCP table that cannot
    /// work.
    #[error("{0}")]
    Problem(String),
}

/// Why an agent file was refused; names the file and, where there is one, the line.
#[derive(Debug, Error)]
#[error("agent file {}: {problem}", path.display())]
pub struct AgentFileError {
    /// The agent file.
    pub path: PathBuf,
    /// What is wrong with it, with the line when known.
    pub problem: String,
}

impl AgentFile {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, AgentFileError> {
        let refuse = |problem: String| AgentFileError {
            path: path.to_owned(),
            problem,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|error| refuse(format!("cannot be read: {error}")))?;
        let mut file = Self::parse(&text).map_err(|error| refuse(error.to_string()))?;
        if file.name.is_none() {
            file.name = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned());
        }
        Ok(file)
    }

    /// Reads and checks a file's text; the error says where and what.
    pub fn parse(text: &str) -> Result<Self, InvalidAgentFile> {
        let file: Self = toml::from_str(text)?;
        for (n, server) in file.mcp_servers.iter().enumerate() {
            server.check().map_err(InvalidAgentFile::Problem)?;
            if file.mcp_servers[..n]
                .iter()
                .any(|earlier| earlier.name == server.name)
            {
                return Err(InvalidAgentFile::Problem(format!(
                    "MCP server `{}` is listed twice",
                    server.name
                )));
            }
        }
        for (n, tool) in file.tools.iter().enumerate() {
            if file.tools[..n]
                .iter()
                .any(|earlier| earlier.get_ref() == tool.get_ref())
            {
                return Err(InvalidAgentFile::Problem(format!(
                    "line {}: tool `{}` is listed twice",
                    line_of(text, tool.span().start),
                    tool.get_ref()
                )));
            }
        }
        Ok(file)
    }

    /// The names of the built-in tools named, as the model sees them.
    pub fn tool_names(&self) -> impl Iterator<Item = String> + '_ {
        self.tools().map(|tool| tool.to_string())
    }

    /// The tools named, in order.
    pub fn tools(&self) -> impl Iterator<Item = BuiltinTool> + '_ {
        self.tools.iter().map(|tool| *tool.get_ref())
    }

    /// The inference settings, as the agent sends them.
    pub fn inference(&self) -> InferenceConfig {
        InferenceConfig {
            max_tokens: self.inference.max_tokens,
            temperature: self.inference.temperature,
            top_p: self.inference.top_p,
            stop_sequences: self.inference.stop_sequences.clone(),
        }
    }

    /// The agent this file defines, around `model`, with the server's limits.
    pub fn agent(&self, model: Arc<dyn Model>, clock: Clock, config: AgentConfig) -> Agent {
        self.agent_builder(model, clock, config).build()
    }

    /// The agent this file defines, to add to (long-term memory) before building.
    pub fn agent_builder(
        &self,
        model: Arc<dyn Model>,
        clock: Clock,
        config: AgentConfig,
    ) -> AgentBuilder {
        let mut builder = Agent::builder(model)
            .name(self.name.as_deref().unwrap_or("agent"))
            .system_prompt(self.system_prompt.clone())
            .inference(self.inference())
            .config(config);
        for tool in self.tools() {
            builder = match builder.tool(tool.build(clock)) {
                Ok(builder) => builder,
                Err(error) => unreachable!("the built-in tools are distinct and valid: {error}"),
            };
        }
        builder
    }
}

impl BuiltinTool {
    /// The tool itself; `get_time` reads `clock`.
    pub fn build(self, clock: Clock) -> Arc<dyn Tool> {
        match self {
            Self::Calculator => Arc::new(Calculator),
            Self::Weather => Arc::new(Weather),
            Self::GetTime => Arc::new(GetTime::new(clock)),
        }
    }
}

impl fmt::Display for BuiltinTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Calculator => "calculator",
            Self::Weather => "weather",
            Self::GetTime => "get_time",
        })
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn non_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.trim().is_empty() {
        return Err(serde::de::Error::custom("must not be empty"));
    }
    Ok(Some(text))
}

fn positive<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let value = i64::deserialize(deserializer)?;
    match u32::try_from(value) {
        Ok(value) if value > 0 => Ok(Some(value)),
        _ => Err(serde::de::Error::custom(format!(
            "must be a whole number from 1 to {}, not {value}",
            u32::MAX
        ))),
    }
}

fn unit_interval<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f32>, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if !(0.0..=1.0).contains(&value) {
        return Err(serde::de::Error::custom(format!(
            "must be from 0 to 1, not {value}"
        )));
    }
    Ok(Some(value as f32))
}

fn non_empty_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let items = Vec::<String>::deserialize(deserializer)?;
    if items.is_empty() || items.iter().any(|item| item.trim().is_empty()) {
        return Err(serde::de::Error::custom(
            "must list at least one namespace, none empty",
        ));
    }
    Ok(items)
}

fn top_k<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let value = i64::deserialize(deserializer)?;
    match u32::try_from(value) {
        Ok(value @ 1..=100) => Ok(Some(value)),
        _ => Err(serde::de::Error::custom(format!(
            "must be a whole number from 1 to 100, not {value}"
        ))),
    }
}

fn score<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if !(0.0..=1.0).contains(&value) {
        return Err(serde::de::Error::custom(format!(
            "must be from 0 to 1, not {value}"
        )));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_whole_file() {
        let file = AgentFile::parse(
            r#"
model_id = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
system_prompt = "Be brief."
tools = ["calculator", "get_time"]
[inference]
max_tokens = 512
temperature = 0.2
top_p = 0.9
stop_sequences = ["END"]
"#,
        )
        .unwrap();
        assert_eq!(
            file.model_id.as_deref(),
            Some("eu.anthropic.claude-sonnet-4-20250514-v1:0")
        );
        assert_eq!(file.system_prompt, "Be brief.");
        assert_eq!(
            file.tools().collect::<Vec<_>>(),
            [BuiltinTool::Calculator, BuiltinTool::GetTime]
        );
        assert_eq!(
            file.inference(),
            InferenceConfig {
                max_tokens: Some(512),
                temperature: Some(0.2),
                top_p: Some(0.9),
                stop_sequences: vec!["END".into()],
            }
        );
        let empty = AgentFile::parse("").unwrap();
        assert!(empty.inference().is_empty() && empty.tools().next().is_none());
        assert!(empty.long_term_memory.is_none());
    }

    #[test]
    fn reads_the_long_term_memory_table() {
        let file = AgentFile::parse(
            r#"
[long_term_memory]
namespaces = ["/strategies/{memoryStrategyId}/actors/{actorId}/", "/summaries/{actorId}/{sessionId}/"]
top_k = 5
min_score = 0.3
"#,
        )
        .unwrap();
        assert_eq!(
            file.long_term_memory,
            Some(LongTermMemorySection {
                namespaces: vec![
                    "/strategies/{memoryStrategyId}/actors/{actorId}/".into(),
                    "/summaries/{actorId}/{sessionId}/".into()
                ],
                top_k: Some(5),
                min_score: Some(0.3),
            })
        );
    }

    #[test]
    fn refuses_with_the_line_and_the_problem() {
        for (text, line, problem) in [
            (
                "system_prompt = \"x\"\ntools = [\"calculator\", \"browser\"]\n",
                "line 2",
                "unknown variant `browser`",
            ),
            (
                "sytem_prompt = \"x\"\n",
                "line 1",
                "unknown field `sytem_prompt`",
            ),
            (
                "[inference]\nmax_tokens = 10\ntemperature = 1.5\n",
                "line 3",
                "must be from 0 to 1, not 1.5",
            ),
            ("[inference]\nmax_tokens = 0\n", "line 2", "from 1 to"),
            ("[inference]\nseed = 4\n", "line 2", "unknown field `seed`"),
            ("model_id = \"\"\n", "line 1", "must not be empty"),
            (
                "[long_term_memory]\nnamespaces = []\n",
                "line 2",
                "at least one namespace",
            ),
            (
                "[long_term_memory]\nnamespaces = [\"/a/\"]\ntop_k = 101\n",
                "line 3",
                "from 1 to 100",
            ),
            (
                "[long_term_memory]\nnamespaces = [\"/a/\"]\nmin_score = 2\n",
                "line 3",
                "must be from 0 to 1",
            ),
            (
                "tools = [\"weather\",\n  \"weather\"]\n",
                "line 2",
                "tool `weather` is listed twice",
            ),
            ("tools = \"calculator\"\n", "line 1", "invalid type"),
            ("model_id = \n", "line 1", ""),
        ] {
            let error = AgentFile::parse(text).unwrap_err().to_string();
            assert!(
                error.contains(line) && error.contains(problem),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn an_unreadable_file_names_itself() {
        let error = AgentFile::load(Path::new("/nonexistent/agent.toml")).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("agent file /nonexistent/agent.toml: cannot be read"),
            "{text}"
        );
    }
}
