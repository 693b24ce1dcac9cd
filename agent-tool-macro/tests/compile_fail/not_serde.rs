use agent_core::tool;

struct Handle;

/// Takes what cannot be read from JSON.
#[tool]
fn opaque(value: Handle) -> String {
    let _ = value;
    String::new()
}

fn main() {}
