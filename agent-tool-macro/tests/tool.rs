//! `#[tool]` on plain functions, called as the agent calls tools: the spec the model is offered
//! and what a call answers — sync and async, with a context and state, optional and nested
//! input, a whole input struct, a renamed tool, errors as error results.

use agent_core::{Json, Tool, ToolContext, ToolOutput, tool};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Adds two numbers.
#[tool(params(a = "The first number.", b = "The second number."))]
fn add(a: i64, b: i64) -> String {
    (a + b).to_string()
}

/// Which scale a temperature is in.
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Unit {
    Celsius,
    Fahrenheit,
}

/// Says the temperature in a city.
///
/// In the unit asked for, Celsius by default.
#[tool(name = "temperature_in", params(city = "The city."))]
async fn temperature(
    city: String,
    unit: Option<Unit>,
    context: &ToolContext,
) -> Result<Json<Value>, String> {
    if city.is_empty() {
        return Err("no city given".into());
    }
    Ok(Json(
        json!({"city": city, "unit": unit.unwrap_or(Unit::Celsius), "call": context.tool_use_id()}),
    ))
}

/// An order to look up.
#[derive(Deserialize, schemars::JsonSchema)]
struct OrderQuery {
    /// The order's id, such as `o-7`.
    id: String,
}

/// Looks an order up.
#[tool(input)]
fn find_order(query: OrderQuery, #[state] prefix: &String) -> ToolOutput {
    ToolOutput::text(format!("{prefix}{}", query.id))
}

fn context() -> ToolContext {
    ToolContext::detached("tooluse_1")
}

#[tokio::test]
async fn a_plain_function_is_a_tool_with_its_schema_and_answer() {
    let spec = Add.spec();
    assert_eq!(spec.name, "add");
    assert_eq!(spec.description, "Adds two numbers.");
    assert_eq!(
        spec.input_schema,
        json!({
            "type": "object",
            "properties": {
                "a": {"type": "integer", "format": "int64", "description": "The first number."},
                "b": {"type": "integer", "format": "int64", "description": "The second number."},
            },
            "required": ["a", "b"],
        })
    );
    let output = Add.call(json!({"a": 2, "b": 5}), &context()).await.unwrap();
    assert_eq!(output, ToolOutput::text("7"));
}

#[tokio::test]
async fn async_functions_options_nested_enums_context_and_errors() {
    let spec = Temperature.spec();
    assert_eq!(spec.name, "temperature_in");
    assert_eq!(
        spec.description,
        "Says the temperature in a city.\n\nIn the unit asked for, Celsius by default."
    );
    assert_eq!(spec.input_schema["required"], json!(["city"]));
    let unit = &spec.input_schema["properties"]["unit"];
    assert!(
        unit.to_string().contains("fahrenheit"),
        "nested, not referenced: {unit}"
    );
    assert!(
        spec.input_schema.get("$defs").is_none() && spec.input_schema.get("definitions").is_none()
    );
    let output = Temperature
        .call(json!({"city": "Tokyo"}), &context())
        .await
        .unwrap();
    assert_eq!(
        output,
        ToolOutput::json(json!({"city": "Tokyo", "unit": "celsius", "call": "tooluse_1"}))
    );
    let error = Temperature
        .call(json!({"city": ""}), &context())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "no city given");
    let unreadable = Temperature
        .call(json!({"city": 5}), &context())
        .await
        .unwrap_err();
    assert!(
        unreadable.to_string().contains("the input cannot be read"),
        "{unreadable}"
    );
}

#[tokio::test]
async fn a_whole_input_struct_and_the_tools_own_state() {
    let tool = FindOrder::new("order ".to_owned());
    let spec = tool.spec();
    assert_eq!(spec.name, "find_order");
    assert_eq!(
        spec.input_schema,
        json!({
            "type": "object",
            "description": "An order to look up.",
            "properties": {"id": {"type": "string", "description": "The order's id, such as `o-7`."}},
            "required": ["id"],
        })
    );
    assert_eq!(
        tool.call(json!({"id": "o-7"}), &context()).await.unwrap(),
        ToolOutput::text("order o-7")
    );
}

#[test]
fn misuses_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile_fail/*.rs");
}
