use agent_core::tool;

/// Borrows its input.
#[tool]
fn borrowed(text: &str) -> String {
    text.to_owned()
}

fn main() {}
