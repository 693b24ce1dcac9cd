//! Structured output: the model's answer as a typed value, through Bedrock's forced tool choice.
//!
//! The model is offered one tool whose input schema is `T`'s (from `schemars`, as `#[tool]`
//! makes schemas) and made to call it (`toolChoice.tool`), so its answer is that tool's input.
//! The input is checked against the schema; a failure is told to the model once, as the tool's
//! error result naming each field that failed, and its second answer is taken or refused with
//! [`AgentError::StructuredOutput`]. The turn keeps the prompt and the accepted answer as the
//! assistant's text (its JSON) — no dangling tool use, the roles still alternating — and, like
//! any turn, nothing at all when it fails.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::AgentError;
use super::events::NoEvents;
use super::{Agent, Overflow};
use crate::conversation::Conversation;
use crate::message::{ContentBlock, Message, Role, ToolResult};
use crate::session::SessionTurn;
use crate::tool::ToolSpec;
use crate::tool::plain_function::input_schema;

/// The output tool's name when `T`'s schema names nothing usable.
const OUTPUT_TOOL: &str = "structured_output";

/// Model answers taken before giving up: the first, and one after the correction.
const ANSWERS: usize = 2;

impl Agent {
    /// Answers `prompt` in a session's turn as a `T`; commit the turn to keep the exchange.
    pub async fn structured_output<T: JsonSchema + DeserializeOwned>(
        &self,
        turn: &mut SessionTurn,
        prompt: &str,
    ) -> Result<T, AgentError> {
        let (conversation, _state) = turn.parts_mut();
        self.structured_output_into(conversation, prompt).await
    }

    /// As [`Agent::structured_output`], in a bare conversation.
    pub async fn structured_output_into<T: JsonSchema + DeserializeOwned>(
        &self,
        conversation: &mut Conversation,
        prompt: &str,
    ) -> Result<T, AgentError> {
        if prompt.trim().is_empty() {
            return Err(AgentError::InvalidInput("the prompt is empty".into()));
        }
        let spec = output_spec::<T>();
        let validator = jsonschema::validator_for(&spec.input_schema).map_err(|error| {
            AgentError::InvalidInput(format!("the output type's schema cannot be used: {error}"))
        })?;
        // The exchange runs on a copy; only the prompt and the accepted answer reach the turn.
        let mut scratch = conversation.clone();
        scratch.push(Message::user(prompt));
        let mut overflow = Overflow {
            turn_start: scratch.len() - 1,
            trimmed: false,
        };
        let limit = self.config.invocation_timeout;
        let answered = tokio::time::timeout(limit, async {
            let mut problem = String::new();
            for _ in 0..ANSWERS {
                let response = self
                    .call_model(&mut scratch, &mut overflow, &mut NoEvents, None, Some(&spec))
                    .await?;
                let found = response
                    .message
                    .tool_uses()
                    .find(|tool_use| tool_use.name == spec.name)
                    .cloned();
                let Some(tool_use) = found else {
                    problem = format!("the model answered without calling `{}`", spec.name);
                    // No tool use to answer: the correction is a plain user turn.
                    scratch.push(response.message.for_history());
                    scratch.push(Message::user(format!(
                        "Answer by calling the `{}` tool with your whole answer as its input.",
                        spec.name
                    )));
                    continue;
                };
                let problems: Vec<String> = validator
                    .iter_errors(&tool_use.input)
                    .map(|error| format!("at {}: {error}", error.instance_path()))
                    .collect();
                let parsed = if problems.is_empty() {
                    serde_json::from_value::<T>(tool_use.input.clone())
                        .map_err(|error| error.to_string())
                } else {
                    Err(problems.join("; "))
                };
                match parsed {
                    Ok(value) => return Ok((value, tool_use.input)),
                    Err(failed) => {
                        problem = format!("the answer does not fit `{}`: {failed}", spec.name);
                        scratch.push(response.message.for_history());
                        scratch.push(Message {
                            role: Role::User,
                            content: vec![ContentBlock::ToolResult(ToolResult::error(
                                tool_use.tool_use_id,
                                format!("Invalid input for tool `{}`: {failed}. Call it again with input that fits its schema.", spec.name),
                            ))],
                        });
                    }
                }
            }
            Err(AgentError::StructuredOutput(problem))
        })
        .await
        .map_err(|_| AgentError::InvocationTimeout(limit))?;
        let (value, input): (T, Value) = answered?;
        conversation.push(Message::user(prompt));
        conversation.push(Message::assistant(input.to_string()));
        self.config.window.apply(conversation);
        Ok(value)
    }
}

/// The one tool the model is made to call: named after `T`'s schema, its input `T`'s schema.
fn output_spec<T: JsonSchema>() -> ToolSpec {
    let named: String = T::schema_name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    ToolSpec {
        name: if named.is_empty() { OUTPUT_TOOL.to_owned() } else { named },
        description: "Give your answer by calling this tool: its input, in the shape of its schema, is your whole answer.".into(),
        input_schema: input_schema::<T>(),
    }
}
