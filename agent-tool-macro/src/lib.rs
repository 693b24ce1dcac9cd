//! `#[tool]`: a plain function as an `agent_core::Tool`. Use it as `agent_core::tool`.
//!
//! The function's doc comment is the tool's description; its parameters are the input, whose
//! JSON schema `schemars` derives from their types (`Option<T>` optional; enums and structs that
//! derive `JsonSchema` nested), each described in `#[tool(params(name = "…"))]`; or, with
//! `#[tool(input)]`, its one parameter is the whole input, a struct whose fields carry doc
//! comments. A `&ToolContext` parameter receives the call's context; a `#[state]` parameter
//! `&S` is the tool's own value, given to `Tool::new(state)`. The function may be `async`, and
//! returns anything that is tool output (`String`, `&str`, `ToolOutput`, `Value`, `Json<T>`) or a
//! `Result` of one whose error is `Display` — the model's error result. The generated tool is a
//! struct named after the function in UpperCamelCase (`fn get_time` → `GetTime`), its name the
//! function's unless `name = "…"` says otherwise.

mod expand;
mod options;
mod signature;

use proc_macro::TokenStream;

/// Makes a plain function an `agent_core::Tool`; see the crate's documentation.
#[proc_macro_attribute]
pub fn tool(attribute: TokenStream, item: TokenStream) -> TokenStream {
    let function = syn::parse_macro_input!(item as syn::ItemFn);
    let options = match options::ToolOptions::parse(attribute.into()) {
        Ok(options) => options,
        Err(error) => return error.to_compile_error().into(),
    };
    match expand::expand(options, function) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}
