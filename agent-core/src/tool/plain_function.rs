//! What `#[tool]` functions are built on: the input's schema in the form Bedrock takes, the
//! input read from the model's JSON, and the function's answer as a tool result. The generated
//! code reaches serde, schemars and async-trait through [`crate::__private`], so a crate that
//! writes tools needs none of them itself.

use std::fmt::Display;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ToolError, ToolOutput};

/// A value a tool answers with as JSON: `Ok(Json(order))` gives the model the order's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json<T>(pub T);

/// What a `#[tool]` function may answer with.
pub trait IntoToolOutput {
    /// The output the model sees.
    fn into_tool_output(self) -> Result<ToolOutput, ToolError>;
}

impl IntoToolOutput for ToolOutput {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(self)
    }
}

impl IntoToolOutput for String {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::text(self))
    }
}

impl IntoToolOutput for &str {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::text(self))
    }
}

impl IntoToolOutput for Value {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::json(self))
    }
}

impl<T: Serialize> IntoToolOutput for Json<T> {
    fn into_tool_output(self) -> Result<ToolOutput, ToolError> {
        serde_json::to_value(self.0)
            .map(ToolOutput::json)
            .map_err(|error| {
                ToolError::new(format!("the answer cannot be written as JSON: {error}"))
            })
    }
}

/// A `#[tool]` function's answer as the call's result: its output, or — for a `Result` whose
/// error is `Display` — that error as the model's error result.
pub trait IntoToolResult {
    /// The call's result.
    fn into_tool_result(self) -> Result<ToolOutput, ToolError>;
}

impl<T: IntoToolOutput> IntoToolResult for T {
    fn into_tool_result(self) -> Result<ToolOutput, ToolError> {
        self.into_tool_output()
    }
}

impl<T: IntoToolOutput, E: Display> IntoToolResult for Result<T, E> {
    fn into_tool_result(self) -> Result<ToolOutput, ToolError> {
        match self {
            Ok(output) => output.into_tool_output(),
            Err(error) => Err(ToolError::new(error.to_string())),
        }
    }
}

/// `T`'s schema as a tool's input schema: draft 7 with every subschema inlined (no `$ref`, no
/// `$defs`), without `$schema` or `title`, and — as Strands' `@tool` writes it — an object's
/// `properties` and `required` always present, empty when there are none.
pub fn input_schema<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft07()
        .with(|settings| {
            settings.inline_subschemas = true;
            settings.meta_schema = None;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("title");
        object.remove("$schema");
        if object.get("type") == Some(&Value::from("object")) {
            object
                .entry("properties")
                .or_insert_with(|| Value::Object(Default::default()));
            object
                .entry("required")
                .or_insert_with(|| Value::Array(Vec::new()));
        }
    }
    schema
}

/// The model's input as `T`; the registry has already checked it against the schema, so a
/// failure here names what serde could not read.
pub fn parse_input<T: DeserializeOwned>(input: Value) -> Result<T, ToolError> {
    serde_json::from_value(input)
        .map_err(|error| ToolError::new(format!("the input cannot be read: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    enum Unit {
        Celsius,
        Fahrenheit,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Input {
        /// The city.
        city: String,
        /// How to answer.
        unit: Option<Unit>,
    }

    #[derive(Deserialize, JsonSchema)]
    struct Nothing {}

    #[test]
    fn schemas_are_inlined_untitled_and_keep_properties_and_required() {
        assert_eq!(
            input_schema::<Input>(),
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city."},
                    "unit": {
                        "description": "How to answer.",
                        "type": ["string", "null"],
                        "enum": ["Celsius", "Fahrenheit", null],
                    },
                },
                "required": ["city"],
            })
        );
        assert_eq!(
            input_schema::<Nothing>(),
            json!({"type": "object", "properties": {}, "required": []})
        );
    }

    #[test]
    fn results_and_errors_become_tool_results() {
        let ok: Result<&str, String> = Ok("fine");
        assert_eq!(ok.into_tool_result().unwrap(), ToolOutput::text("fine"));
        let failed: Result<String, &str> = Err("no such order");
        assert_eq!(
            failed.into_tool_result().unwrap_err().to_string(),
            "no such order"
        );
        assert_eq!(
            Json(json!({"a": 1})).into_tool_result().unwrap(),
            ToolOutput::json(json!({"a": 1}))
        );
    }
}
