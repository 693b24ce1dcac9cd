use agent_core::tool;

#[tool]
fn undocumented() -> String {
    String::new()
}

fn main() {}
