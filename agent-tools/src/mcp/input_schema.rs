//! An MCP tool's input schema as Bedrock takes it.
//!
//! Bedrock wants a self-contained JSON Schema whose root is an object. MCP servers send what
//! their frameworks generate: `$ref`s into `$defs` (pydantic, schemars), or no schema at all.
//! Local references are inlined — recursive ones, which cannot be, become an unconstrained
//! value with the referenced definition's description — and every other keyword is kept, so the
//! model still sees enums, formats, bounds and required fields.

use serde_json::{Map, Value, json};

/// Why a tool's input schema cannot be offered to Bedrock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("its input schema's root is of type {root}, not an object")]
pub struct SchemaError {
    /// The root's `type`, as the server sent it.
    pub root: Value,
}

/// The schema to offer for an MCP tool whose `inputSchema` is `schema`.
///
/// An empty or missing schema becomes an object without properties; a root without `type`
/// gets `"type": "object"`; local `$ref`s (`#/$defs/…`, `#/definitions/…`) are inlined and the
/// definitions removed. A root whose `type` is not `object` is an error naming it.
pub fn for_bedrock(schema: &Map<String, Value>) -> Result<Value, SchemaError> {
    if let Some(kind) = schema.get("type")
        && kind != "object"
    {
        return Err(SchemaError { root: kind.clone() });
    }
    let mut definitions = Map::new();
    for key in ["definitions", "$defs"] {
        if let Some(Value::Object(found)) = schema.get(key) {
            for (name, definition) in found {
                definitions.insert(format!("#/{key}/{name}"), definition.clone());
            }
        }
    }
    let mut root = schema.clone();
    root.remove("$defs");
    root.remove("definitions");
    let mut root = inline(Value::Object(root), &definitions, &mut Vec::new());
    let object = root.as_object_mut().expect("an object stays an object");
    object.entry("type").or_insert_with(|| json!("object"));
    object.entry("properties").or_insert_with(|| json!({}));
    Ok(root)
}

fn inline(value: Value, definitions: &Map<String, Value>, open: &mut Vec<String>) -> Value {
    match value {
        Value::Object(mut object) => {
            if let Some(Value::String(reference)) = object.get("$ref").cloned()
                && let Some(definition) = definitions.get(&reference)
            {
                object.remove("$ref");
                if open.contains(&reference) {
                    // A recursive type: the model gets its description, not its shape.
                    if let Some(description) = definition.get("description") {
                        object
                            .entry("description")
                            .or_insert_with(|| description.clone());
                    }
                    return Value::Object(object);
                }
                open.push(reference);
                let resolved = inline(definition.clone(), definitions, open);
                open.pop();
                // Keywords beside a `$ref` (a description, a default) win over the definition's.
                let mut merged = match resolved {
                    Value::Object(resolved) => resolved,
                    other => return other,
                };
                for (key, sibling) in object {
                    merged.insert(key, inline(sibling, definitions, open));
                }
                return Value::Object(merged);
            }
            Value::Object(
                object
                    .into_iter()
                    .map(|(key, child)| (key, inline(child, definitions, open)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| inline(item, definitions, open))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn no_schema_is_an_object_without_properties() {
        assert_eq!(
            for_bedrock(&Map::new()).unwrap(),
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(
            for_bedrock(&object(json!({"type": "object"}))).unwrap(),
            json!({"type": "object", "properties": {}})
        );
    }

    #[test]
    fn local_references_are_inlined_with_their_constraints() {
        let schema = object(json!({
            "type": "object",
            "properties": {
                "order": {"$ref": "#/$defs/Order", "description": "the order to look up"},
                "units": {"$ref": "#/definitions/Units"}
            },
            "required": ["order"],
            "$defs": {"Order": {
                "type": "object",
                "properties": {"id": {"type": "string", "pattern": "^o-[0-9]+$"}},
                "required": ["id"]
            }},
            "definitions": {"Units": {"enum": ["metric", "imperial"]}}
        }));
        assert_eq!(
            for_bedrock(&schema).unwrap(),
            json!({
                "type": "object",
                "properties": {
                    "order": {
                        "type": "object",
                        "description": "the order to look up",
                        "properties": {"id": {"type": "string", "pattern": "^o-[0-9]+$"}},
                        "required": ["id"]
                    },
                    "units": {"enum": ["metric", "imperial"]}
                },
                "required": ["order"]
            })
        );
    }

    #[test]
    fn a_recursive_reference_stops_at_the_cycle() {
        let schema = object(json!({
            "type": "object",
            "properties": {"tree": {"$ref": "#/$defs/Node"}},
            "$defs": {"Node": {
                "type": "object",
                "description": "a node",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}
            }}
        }));
        let fitted = for_bedrock(&schema).unwrap();
        assert_eq!(
            fitted["properties"]["tree"]["properties"]["children"]["items"],
            json!({"description": "a node"})
        );
        assert!(!fitted.to_string().contains("$ref"));
    }

    #[test]
    fn a_root_that_is_not_an_object_is_refused() {
        let error = for_bedrock(&object(json!({"type": "string"}))).unwrap_err();
        assert_eq!(error.root, serde_json::json!("string"), "{error}");
    }
}
