//! Tools the model may call, and the registry that runs them safely.
//!
//! A tool's definition (name, description, JSON input schema) travels with its call, and each
//! call gets its [`ToolContext`] from the runtime (`context`). The registry is the one place that
//! turns anything a tool use can go wrong with — an unknown name, input that fails the schema,
//! an error, even a panic — into an error *result* for the model, so a confused model never
//! fails an invocation; a panicking call's writes to the session state are undone.

mod context;
mod shared_state;

pub use self::context::ToolContext;
pub(crate) use self::context::TurnScope;
pub(crate) use self::shared_state::SharedState;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

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
/// Implement [`Tool::call`] for a tool that needs only its input, or [`Tool::call_in`] for one
/// that needs its session — the user, the request, the session's state. The agent always calls
/// `call_in`, which by default calls `call`.
#[async_trait]
pub trait Tool: Send + Sync {
    /// Name, description and input schema.
    fn spec(&self) -> ToolSpec;

    /// Runs the tool on input that already satisfies the schema.
    async fn call(&self, input: Value) -> Result<ToolOutput, ToolError> {
        let _ = input;
        Err(ToolError::new(format!(
            "tool `{}` runs only with its context",
            self.spec().name
        )))
    }

    /// Runs the tool on input that already satisfies the schema, in its call's context.
    async fn call_in(&self, input: Value, context: &ToolContext) -> Result<ToolOutput, ToolError> {
        let _ = context;
        self.call(input).await
    }
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
#[derive(Default)]
pub struct ToolRegistry {
    specs: Vec<ToolSpec>,
    tools: HashMap<String, RegisteredTool>,
}

struct RegisteredTool {
    tool: Arc<dyn Tool>,
    validator: jsonschema::Validator,
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool; its schema is compiled once, here.
    pub fn register(&mut self, tool: Arc<dyn Tool>) -> Result<(), RegistryError> {
        let spec = tool.spec();
        if self.tools.contains_key(&spec.name) {
            return Err(RegistryError::DuplicateName(spec.name));
        }
        let validator = jsonschema::validator_for(&spec.input_schema).map_err(|error| {
            RegistryError::InvalidSchema {
                name: spec.name.clone(),
                message: error.to_string(),
            }
        })?;
        self.tools
            .insert(spec.name.clone(), RegisteredTool { tool, validator });
        self.specs.push(spec);
        Ok(())
    }

    /// The specs of all tools, in registration order.
    pub fn specs(&self) -> &[ToolSpec] {
        &self.specs
    }

    /// Runs one tool use in `context`; whatever happens, the model gets a result for it.
    pub async fn run(&self, tool_use: &ToolUse, context: &ToolContext) -> ToolResult {
        let id = tool_use.tool_use_id.clone();
        let Some(registered) = self.tools.get(&tool_use.name) else {
            let known: Vec<&str> = self.specs.iter().map(|spec| spec.name.as_str()).collect();
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
        let call = registered.tool.call_in(tool_use.input.clone(), context);
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

        async fn call(&self, input: Value) -> Result<ToolOutput, ToolError> {
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

    #[test]
    fn duplicate_names_are_refused() {
        let mut registry = registry();
        assert!(matches!(
            registry.register(Arc::new(Echo)),
            Err(RegistryError::DuplicateName(name)) if name == "echo"
        ));
    }
}
