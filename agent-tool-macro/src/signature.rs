//! A tool function's parameters, each sorted into what it is: part of the model's input, the
//! call's context, or the tool's own state.

use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, Pat, Type};

/// One parameter of a tool function.
pub(crate) enum Param {
    /// Read from the model's JSON input.
    Input {
        ident: Ident,
        ty: Type,
        docs: Vec<syn::Attribute>,
    },
    /// `&ToolContext`: the call's context.
    Context,
    /// `#[state] name: &S`: the tool's own value.
    State { ident: Ident, ty: Type },
}

/// Sorts `function`'s parameters, refusing what cannot be a tool: a generic function, a method,
/// a pattern, a borrowed input, two contexts. `#[state]` attributes are taken off the function.
pub(crate) fn params(function: &mut ItemFn) -> syn::Result<Vec<Param>> {
    if !function.sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            function.sig.generics.span(),
            "a #[tool] function cannot be generic: its input schema is fixed when it is offered",
        ));
    }
    let mut params = Vec::new();
    let mut contexts = 0;
    for argument in &mut function.sig.inputs {
        let FnArg::Typed(typed) = argument else {
            return Err(syn::Error::new(
                argument.span(),
                "#[tool] goes on a plain function, not a method",
            ));
        };
        let Pat::Ident(pattern) = &*typed.pat else {
            return Err(syn::Error::new(
                typed.pat.span(),
                "a #[tool] parameter needs a plain name: it is a field of the input",
            ));
        };
        let ident = pattern.ident.clone();
        let state = typed.attrs.iter().any(|attr| attr.path().is_ident("state"));
        typed.attrs.retain(|attr| !attr.path().is_ident("state"));
        let docs: Vec<syn::Attribute> = typed
            .attrs
            .iter()
            .filter(|attr| attr.path().is_ident("doc"))
            .cloned()
            .collect();
        typed.attrs.retain(|attr| !attr.path().is_ident("doc"));
        match &*typed.ty {
            Type::Reference(reference) if state => params.push(Param::State {
                ident,
                ty: (*reference.elem).clone(),
            }),
            _ if state => {
                return Err(syn::Error::new(
                    typed.ty.span(),
                    "a #[state] parameter is a reference, `&S`, to the tool's own value",
                ));
            }
            Type::Reference(reference) if names_tool_context(&reference.elem) => {
                contexts += 1;
                if contexts > 1 {
                    return Err(syn::Error::new(
                        typed.span(),
                        "a #[tool] function takes at most one `&ToolContext`: a call has one context",
                    ));
                }
                params.push(Param::Context);
            }
            Type::Reference(_) => {
                return Err(syn::Error::new(
                    typed.ty.span(),
                    "a #[tool] parameter is an owned value read from the model's JSON input: take `String`, not `&str`",
                ));
            }
            ty => params.push(Param::Input {
                ident,
                ty: ty.clone(),
                docs,
            }),
        }
    }
    Ok(params)
}

fn names_tool_context(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.segments.last().is_some_and(|last| last.ident == "ToolContext"))
}
