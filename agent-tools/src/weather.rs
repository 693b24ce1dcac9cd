//! `weather`: the tutorial's stand-in weather service; it is always sunny.

use agent_core::{Tool, ToolContext, ToolError, ToolOutput, ToolSpec};
use async_trait::async_trait;
use serde_json::{Value, json};

/// The weather tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct Weather;

#[async_trait]
impl Tool for Weather {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "weather".into(),
            description: "天気を取得する".into(),
            input_schema: json!({"type": "object", "properties": {}, "required": []}),
        }
    }

    async fn call(&self, _input: Value, _context: &ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::text("sunny"))
    }
}
