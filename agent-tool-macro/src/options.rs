//! What `#[tool(…)]` says: `name = "…"`, `params(field = "description", …)`, `input`.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{Ident, LitStr, Token};

/// The attribute's settings.
#[derive(Default)]
pub(crate) struct ToolOptions {
    /// The tool's name, when not the function's.
    pub(crate) name: Option<LitStr>,
    /// Descriptions of parameters, by name.
    pub(crate) params: Vec<(Ident, LitStr)>,
    /// The one parameter is the whole input.
    pub(crate) whole_input: bool,
}

impl ToolOptions {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let mut options = Self::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("name") {
                options.name = Some(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("input") {
                options.whole_input = true;
                Ok(())
            } else if meta.path.is_ident("params") {
                meta.parse_nested_meta(|param| {
                    let ident = param
                        .path
                        .get_ident()
                        .cloned()
                        .ok_or_else(|| param.error("expected a parameter's name"))?;
                    let _: Token![=] = param.input.parse()?;
                    options.params.push((ident, param.input.parse()?));
                    Ok(())
                })
            } else {
                Err(meta.error("expected `name = \"…\"`, `params(…)` or `input`"))
            }
        });
        parser.parse2(tokens)?;
        Ok(options)
    }
}
