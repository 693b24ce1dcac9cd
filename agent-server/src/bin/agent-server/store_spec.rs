//! Where sessions live, as `--session-store` names it, read once at the edge into what it is —
//! so a typo is refused by the argument parser naming the flag, not found later where the
//! string is used — and which store is chosen when the flag is absent.

use std::str::FromStr;

use agent_core::session::{MemoryId, RedisSessionStore};

/// How `--session-store` names an AgentCore Memory.
const AGENTCORE_MEMORY_SCHEME: &str = "agentcore-memory:";

/// A session store, as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreSpec {
    /// This process's memory.
    Memory,
    /// A Redis server or cluster at this URL (which may hold a password: never displayed).
    Redis(String),
    /// An AgentCore Memory.
    AgentCoreMemory(MemoryId),
}

impl FromStr for StoreSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "memory" {
            return Ok(Self::Memory);
        }
        if let Some(id) = text.strip_prefix(AGENTCORE_MEMORY_SCHEME) {
            return id
                .parse()
                .map(Self::AgentCoreMemory)
                .map_err(|error| error.to_string());
        }
        // Anything else is a Redis URL, read by the redis crate's own parser.
        RedisSessionStore::check_url(text)
            .map(|()| Self::Redis(text.to_owned()))
            .map_err(|error| {
                format!(
                    "expected `memory`, a Redis URL (redis://, rediss://, valkey://, unix://…) or `{AGENTCORE_MEMORY_SCHEME}<memory id or ARN>`: {error}"
                )
            })
    }
}

/// `--session-store`'s parser: [`StoreSpec::from_str`], its refusal told without the value, so
/// a Redis URL's password never reaches the terminal or a log (clap's own message repeats it).
#[derive(Clone)]
pub(crate) struct StoreSpecParser;

impl clap::builder::TypedValueParser for StoreSpecParser {
    type Value = StoreSpec;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _argument: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<StoreSpec, clap::Error> {
        let refuse = |problem: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for --session-store: {problem}\n"),
            )
        };
        let text = value.to_str().ok_or_else(|| refuse("not UTF-8".into()))?;
        text.parse().map_err(refuse)
    }
}

/// The store in force and why it was chosen.
pub(crate) struct StoreChoice {
    pub(crate) spec: StoreSpec,
    pub(crate) reason: &'static str,
}

impl StoreChoice {
    /// `--session-store`, else AgentCore Memory when the runtime was given one
    /// (`BEDROCK_AGENTCORE_MEMORY_ID`), else this process's memory.
    pub(crate) fn of(flag: Option<&StoreSpec>, runtime_memory: Option<&MemoryId>) -> Self {
        match (flag, runtime_memory) {
            (Some(spec), _) => Self {
                spec: spec.clone(),
                reason: "--session-store",
            },
            (None, Some(memory)) => Self {
                spec: StoreSpec::AgentCoreMemory(memory.clone()),
                reason: "BEDROCK_AGENTCORE_MEMORY_ID is set",
            },
            (None, None) => Self {
                spec: StoreSpec::Memory,
                reason: "the default",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_is_read_at_the_edge_and_a_typo_is_refused() {
        assert_eq!("memory".parse(), Ok(StoreSpec::Memory));
        for url in [
            "redis://127.0.0.1:6379",
            "rediss://a:b@host:6380/1",
            "redis+unix:///tmp/r.sock",
            "unix:///tmp/r.sock",
        ] {
            assert_eq!(url.parse(), Ok(StoreSpec::Redis(url.to_owned())), "{url}");
        }
        let memory: StoreSpec = "agentcore-memory:tutorial_memory-AbCdE12345"
            .parse()
            .unwrap();
        assert!(
            matches!(memory, StoreSpec::AgentCoreMemory(id) if id.as_str() == "tutorial_memory-AbCdE12345")
        );
        assert!(
            "agentcore-memory:nope"
                .parse::<StoreSpec>()
                .unwrap_err()
                .contains("nope")
        );
        assert!(
            "memroy"
                .parse::<StoreSpec>()
                .unwrap_err()
                .contains("expected `memory`")
        );
        assert!("http://redis:6379".parse::<StoreSpec>().is_err());
    }

    #[test]
    fn a_refused_url_is_never_repeated() {
        use clap::builder::TypedValueParser;
        let command = clap::Command::new("agent-server");
        let value = std::ffi::OsStr::new("rediss://user:hunter2@host:notaport");
        let error = StoreSpecParser
            .parse_ref(&command, None, value)
            .unwrap_err();
        let shown = error.to_string();
        assert!(
            shown.contains("--session-store") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
