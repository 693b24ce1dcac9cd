use agent_core::{ToolContext, tool};

/// Two contexts.
#[tool]
fn twice(first: &ToolContext, second: &ToolContext) -> String {
    format!("{}{}", first.tool_use_id(), second.tool_use_id())
}

fn main() {}
