//! Tools the model may call, and the registry that runs them safely.
//!
//! A tool's definition (name, description, JSON input schema) travels with its call, and each
//! call gets its [`ToolContext`] from the runtime (`context`). The registry is the one place that
//! turns anything a tool use can go wrong with — an unknown name, input that fails the schema,
//! an error, even a panic — into an error *result* for the model, so a confused model never
//! fails an invocation; a panicking call's writes to the session state are undone.

mod context;
pub(crate) mod plain_function;
mod shared_state;

pub use self::context::ToolContext;
pub(crate) use self::context::TurnScope;
pub use self::plain_function::{IntoToolOutput, IntoToolResult, Json};
pub(crate) use self::shared_state::SharedState;

use crate::sync::{read, write};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::message::{
    EMPTY_TOOL_OUTPUT_PLACEHOLDER, ToolResult, ToolResultContent, ToolResultStatus, ToolUse,
};
use crate::session::StateError;

/// What the model is told about a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec {
    /// The name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of the tool's input object.
    pub input_schema: Value,
}

/// A capability the agent offers the model.
///
/// One method does the work, [`Tool::call`], given the input and the call's [`ToolContext`]
/// — the user, the request, the session's state; a tool that needs only its input ignores the
/// context. A plain function becomes a tool with the `#[tool]` attribute.
#[async_trait]
pub trait Tool: Send + Sync {
    /// Name, description and input schema.
    fn spec(&self) -> ToolSpec;

    /// Runs the tool on input that already satisfies the schema, in its call's context (the
    /// session, the request, the verified caller, the state; [`ToolContext::detached`] outside
    /// a session). The one method to write, so an impl without a body does not compile; a
    /// tool that needs no context names it `_context`.
    async fn call(&self, input: Value, context: &ToolContext) -> Result<ToolOutput, ToolError>;
}

/// Tools whose set can change while the agent runs — an MCP server's, say, when the server
/// announces a new list.
pub trait ToolSource: Send + Sync {
    /// Changes whenever [`ToolSource::tools`] does; cheap, read before every model call.
    fn generation(&self) -> u64;

    /// The tools now.
    fn tools(&self) -> Vec<Arc<dyn Tool>>;
}

/// What the model reads before a tool's own error message: `Error: order o-9 does not exist`.
pub const TOOL_ERROR_PREFIX: &str = "Error: ";

/// What a tool returns on success.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput(pub Vec<ToolResultContent>);

impl ToolOutput {
    /// Output of one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self(vec![ToolResultContent::Text(text.into())])
    }

    /// Output of one JSON block.
    pub fn json(value: Value) -> Self {
        Self(vec![ToolResultContent::Json(value)])
    }
}

/// A tool's own failure, told to the model as an error result.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ToolError(pub String);

impl ToolError {
    /// An error with a message for the model.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<StateError> for ToolError {
    fn from(error: StateError) -> Self {
        Self(error.to_string())
    }
}

/// Why a tool could not be registered.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Another tool has the name.
    #[error("a tool named `{0}` is already registered")]
    DuplicateName(String),
    /// The input schema is not a valid JSON Schema.
    #[error("tool `{name}` has an invalid input schema: {message}")]
    InvalidSchema {
        /// The tool.
        name: String,
        /// What is wrong with its schema.
        message: String,
    },
}

/// The tools of one agent definition, with their compiled input schemas.
///
/// Most tools are fixed when the agent is built; a [`ToolSource`]'s may change while it runs
/// (an MCP server's list). The registry notices a source's new generation the next time the
/// model is offered tools, and from then on offers and runs the new set.
#[derive(Default)]
pub struct ToolRegistry {
    fixed: Vec<Arc<dyn Tool>>,
    sources: Vec<Arc<dyn ToolSource>>,
    current: RwLock<Arc<Snapshot>>,
}

/// The tools offered at one moment.
#[derive(Default)]
struct Snapshot {
    specs: Arc<[ToolSpec]>,
    tools: HashMap<String, RegisteredTool>,
    generations: Vec<u64>,
}

struct RegisteredTool {
    tool: Arc<dyn Tool>,
    validator: Arc<jsonschema::Validator>,
    spec: ToolSpec,
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool; its schema is compiled once, here.
    pub fn register(&mut self, tool: Arc<dyn Tool>) -> Result<(), RegistryError> {
        self.building().add_offered(tool.clone())?;
        self.fixed.push(tool);
        Ok(())
    }

    /// Adds a source's tools as they are now, and follows it when its generation changes.
    /// Tools registered after a source are offered before its tools once it has changed.
    pub fn register_source(&mut self, source: Arc<dyn ToolSource>) -> Result<(), RegistryError> {
        // Read first: a change while the tools are read makes the next snapshot rebuild.
        let generation = source.generation();
        let building = self.building();
        for tool in source.tools() {
            building.add_offered(tool)?;
        }
        building.generations.push(generation);
        self.sources.push(source);
        Ok(())
    }

    /// The snapshot of a registry not yet shared.
    fn building(&mut self) -> &mut Snapshot {
        Arc::get_mut(
            self.current
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        )
        .expect("a registry is built before it is shared")
    }

    /// The specs of all tools offered now, in registration order.
    pub fn specs(&self) -> Arc<[ToolSpec]> {
        self.snapshot().specs.clone()
    }

    /// The current tools, rebuilt first when a source has changed.
    fn snapshot(&self) -> Arc<Snapshot> {
        let current = read(&self.current).clone();
        let stale = self
            .sources
            .iter()
            .zip(&current.generations)
            .any(|(source, seen)| source.generation() != *seen);
        if !stale {
            return current;
        }
        let rebuilt = Arc::new(self.rebuild(&current));
        *write(&self.current) = rebuilt.clone();
        rebuilt
    }

    /// The fixed tools and every source's current ones; a schema already compiled is reused, a
    /// source's tool whose name is taken or whose schema is invalid is left out with a warning.
    fn rebuild(&self, previous: &Snapshot) -> Snapshot {
        let mut next = Snapshot::default();
        let mut specs = Vec::new();
        let generations: Vec<u64> = self
            .sources
            .iter()
            .map(|source| source.generation())
            .collect();
        let sourced = self.sources.iter().flat_map(|source| source.tools());
        for (tool, fixed) in self
            .fixed
            .iter()
            .cloned()
            .map(|tool| (tool, true))
            .chain(sourced.map(|tool| (tool, false)))
        {
            let spec = tool.spec();
            let reuse = previous
                .tools
                .get(&spec.name)
                .filter(|known| known.spec == spec)
                .map(|known| known.validator.clone());
            match add(&mut next, tool, reuse) {
                Ok(()) => specs.push(spec),
                Err(error) if fixed => unreachable!("fixed tools were registered once: {error}"),
                Err(error) => {
                    tracing::warn!("a tool of a changed tool list is not offered: {error}")
                }
            }
        }
        next.specs = specs.into();
        next.generations = generations;
        next
    }

    /// Runs one tool use in `context`; whatever happens, the model gets a result for it.
    pub async fn run(&self, tool_use: &ToolUse, context: &ToolContext) -> ToolResult {
        let id = tool_use.tool_use_id.clone();
        let snapshot = self.snapshot();
        let Some(registered) = snapshot.tools.get(&tool_use.name) else {
            let known: Vec<&str> = snapshot
                .specs
                .iter()
                .map(|spec| spec.name.as_str())
                .collect();
            return ToolResult::error(
                id,
                format!(
                    "Unknown tool `{}`. Available tools: {}.",
                    tool_use.name,
                    known.join(", ")
                ),
            );
        };
        let problems: Vec<String> = registered
            .validator
            .iter_errors(&tool_use.input)
            .map(|error| error.to_string())
            .collect();
        if !problems.is_empty() {
            return ToolResult::error(
                id,
                format!(
                    "Invalid input for tool `{}`: {}",
                    tool_use.name,
                    problems.join("; ")
                ),
            );
        }
        let call = registered.tool.call(tool_use.input.clone(), context);
        match AssertUnwindSafe(call).catch_unwind().await {
            Ok(Ok(ToolOutput(content))) => ToolResult {
                tool_use_id: id,
                content: non_empty(content),
                status: ToolResultStatus::Success,
            },
            Ok(Err(error)) => ToolResult::error(id, format!("{TOOL_ERROR_PREFIX}{error}")),
            Err(_panic) => {
                context.undo_writes();
                tracing::error!(tool = %tool_use.name, "tool panicked");
                ToolResult::error(id, format!("Tool `{}` failed unexpectedly.", tool_use.name))
            }
        }
    }
}

impl Snapshot {
    /// Adds `tool` and offers it last.
    fn add_offered(&mut self, tool: Arc<dyn Tool>) -> Result<(), RegistryError> {
        let spec = tool.spec();
        add(self, tool, None)?;
        self.specs = self.specs.iter().cloned().chain([spec]).collect();
        Ok(())
    }
}

/// Adds `tool` to `snapshot`, compiling its schema unless `validator` is the one already compiled.
fn add(
    snapshot: &mut Snapshot,
    tool: Arc<dyn Tool>,
    validator: Option<Arc<jsonschema::Validator>>,
) -> Result<(), RegistryError> {
    let spec = tool.spec();
    if snapshot.tools.contains_key(&spec.name) {
        return Err(RegistryError::DuplicateName(spec.name));
    }
    let validator = match validator {
        Some(validator) => validator,
        None => Arc::new(
            jsonschema::validator_for(&spec.input_schema).map_err(|error| {
                RegistryError::InvalidSchema {
                    name: spec.name.clone(),
                    message: error.to_string(),
                }
            })?,
        ),
    };
    snapshot.tools.insert(
        spec.name.clone(),
        RegisteredTool {
            tool,
            validator,
            spec,
        },
    );
    Ok(())
}

/// Tool output as Converse accepts it: blank text dropped, a placeholder when nothing is left.
fn non_empty(mut content: Vec<ToolResultContent>) -> Vec<ToolResultContent> {
    content
        .retain(|block| !matches!(block, ToolResultContent::Text(text) if text.trim().is_empty()));
    if content.is_empty() {
        content.push(ToolResultContent::Text(
            EMPTY_TOOL_OUTPUT_PLACEHOLDER.to_owned(),
        ));
    }
    content
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Echo;

    #[async_trait]
    impl Tool for Echo {
        fn spec(&self) -> ToolSpec {
            ToolSpec {
                name: "echo".into(),
                description: "repeats its text".into(),
                input_schema: json!({
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"]
                }),
            }
        }

        async fn call(
            &self,
            input: Value,
            _context: &ToolContext,
        ) -> Result<ToolOutput, ToolError> {
            match input["text"].as_str() {
                Some("panic") => panic!("asked to"),
                Some("nothing") => Ok(ToolOutput(Vec::new())),
                Some("fail") => Err(ToolError::new("asked to fail")),
                Some(text) => Ok(ToolOutput::text(text)),
                None => unreachable!("the schema requires text"),
            }
        }
    }

    fn registry() -> ToolRegistry {
        let mut registry = ToolRegistry::new();
        registry.register(Arc::new(Echo)).unwrap();
        registry
    }

    fn use_of(name: &str, input: Value) -> ToolUse {
        ToolUse {
            tool_use_id: "id-1".into(),
            name: name.into(),
            input,
        }
    }

    #[tokio::test]
    async fn runs_a_known_tool() {
        let result = registry()
            .run(
                &use_of("echo", json!({"text": "hi"})),
                &ToolContext::detached("t"),
            )
            .await;
        assert_eq!(result, ToolResult::success("id-1", "hi"));
    }

    #[tokio::test]
    async fn unknown_tool_is_an_error_result_naming_the_known_ones() {
        let result = registry()
            .run(&use_of("nope", json!({})), &ToolContext::detached("t"))
            .await;
        assert_eq!(result.status, ToolResultStatus::Error);
        assert_eq!(result.text(), "Unknown tool `nope`. Available tools: echo.");
    }

    #[tokio::test]
    async fn input_failing_the_schema_is_an_error_result() {
        let result = registry()
            .run(
                &use_of("echo", json!({"text": 5})),
                &ToolContext::detached("t"),
            )
            .await;
        assert_eq!(result.status, ToolResultStatus::Error);
        assert!(
            result.text().starts_with("Invalid input for tool `echo`"),
            "{}",
            result.text()
        );
        let missing = registry()
            .run(&use_of("echo", json!({})), &ToolContext::detached("t"))
            .await;
        assert!(
            missing.text().contains("\"text\" is a required property"),
            "{}",
            missing.text()
        );
    }

    #[tokio::test]
    async fn tool_errors_and_panics_become_error_results() {
        let failed = registry()
            .run(
                &use_of("echo", json!({"text": "fail"})),
                &ToolContext::detached("t"),
            )
            .await;
        assert_eq!(failed, ToolResult::error("id-1", "Error: asked to fail"));
        let panicked = registry()
            .run(
                &use_of("echo", json!({"text": "panic"})),
                &ToolContext::detached("t"),
            )
            .await;
        assert_eq!(
            panicked,
            ToolResult::error("id-1", "Tool `echo` failed unexpectedly.")
        );
    }

    #[tokio::test]
    async fn empty_output_is_replaced_by_a_placeholder_bedrock_accepts() {
        for input in [json!({"text": ""}), json!({"text": "nothing"})] {
            let result = registry()
                .run(&use_of("echo", input), &ToolContext::detached("t"))
                .await;
            assert_eq!(
                result,
                ToolResult::success("id-1", EMPTY_TOOL_OUTPUT_PLACEHOLDER)
            );
        }
    }

    /// Echo under another name.
    struct Named(&'static str);

    #[async_trait]
    impl Tool for Named {
        fn spec(&self) -> ToolSpec {
            ToolSpec {
                name: self.0.into(),
                ..Echo.spec()
            }
        }

        async fn call(
            &self,
            input: Value,
            _context: &ToolContext,
        ) -> Result<ToolOutput, ToolError> {
            Echo.call(input, &ToolContext::detached("echo")).await
        }
    }

    #[derive(Default)]
    struct Changing {
        generation: std::sync::atomic::AtomicU64,
        tools: std::sync::Mutex<Vec<&'static str>>,
    }

    impl Changing {
        fn set(&self, names: &[&'static str]) {
            *self.tools.lock().unwrap() = names.to_vec();
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    impl ToolSource for Changing {
        fn generation(&self) -> u64 {
            self.generation.load(std::sync::atomic::Ordering::SeqCst)
        }

        fn tools(&self) -> Vec<Arc<dyn Tool>> {
            let names = self.tools.lock().unwrap().clone();
            names
                .into_iter()
                .map(|name| Arc::new(Named(name)) as Arc<dyn Tool>)
                .collect()
        }
    }

    #[tokio::test]
    async fn a_source_s_new_tools_are_offered_and_run_and_a_taken_name_is_left_out() {
        let source = Arc::new(Changing::default());
        source.set(&["a"]);
        let mut registry = registry();
        registry.register_source(source.clone()).unwrap();
        let names = |registry: &ToolRegistry| -> Vec<String> {
            registry
                .specs()
                .iter()
                .map(|spec| spec.name.clone())
                .collect()
        };
        assert_eq!(names(&registry), ["echo", "a"]);

        source.set(&["b", "echo"]);
        assert_eq!(names(&registry), ["echo", "b"]);
        let ran = registry
            .run(
                &use_of("b", json!({"text": "from b"})),
                &ToolContext::detached("t"),
            )
            .await;
        assert_eq!(ran, ToolResult::success("id-1", "from b"));
        let gone = registry
            .run(
                &use_of("a", json!({"text": "x"})),
                &ToolContext::detached("t"),
            )
            .await;
        assert_eq!(gone.text(), "Unknown tool `a`. Available tools: echo, b.");
    }

    #[test]
    fn duplicate_names_are_refused() {
        let mut registry = registry();
        assert!(matches!(
            registry.register(Arc::new(Echo)),
            Err(RegistryError::DuplicateName(name)) if name == "echo"
        ));
    }
}
