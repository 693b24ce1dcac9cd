//! The code `#[tool]` writes: the function as it was, a struct named after it, the input's
//! struct (serde and schemars, through `agent_core`'s own paths so users need neither crate),
//! and the `Tool` impl whose `call` reads the input and calls the function.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Expr, ExprLit, Ident, ItemFn, Lit, LitStr, Meta};

use crate::options::ToolOptions;
use crate::signature::{Param, params};

pub(crate) fn expand(options: ToolOptions, mut function: ItemFn) -> syn::Result<TokenStream> {
    let description = doc_text(&function.attrs).ok_or_else(|| {
        syn::Error::new(
            function.sig.ident.span(),
            "a #[tool] function needs a doc comment: it is the description the model reads",
        )
    })?;
    let params = params(&mut function)?;
    let function_name = function.sig.ident.clone();
    let struct_name = Ident::new(
        &upper_camel(&function_name.to_string()),
        function_name.span(),
    );
    let tool_name = options
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new(&function_name.to_string(), function_name.span()));
    let visibility = function.vis.clone();
    let input_names: Vec<&Ident> = params
        .iter()
        .filter_map(|param| match param {
            Param::Input { ident, .. } => Some(ident),
            _ => None,
        })
        .collect();
    for (described, _) in &options.params {
        if !input_names.contains(&described) {
            return Err(syn::Error::new(
                described.span(),
                format!("`{described}` is not a parameter of this tool's input"),
            ));
        }
    }
    let private = quote!(::agent_core::__private);
    let serde_crate = LitStr::new("::agent_core::__private::serde", Span::call_site());
    let schemars_crate = LitStr::new("::agent_core::__private::schemars", Span::call_site());

    // The input: the one parameter's own type, or a struct of the parameters.
    let (input_type, input_struct, bind_input) = if options.whole_input {
        let [Param::Input { ident, ty, .. }] = params
            .iter()
            .filter(|param| matches!(param, Param::Input { .. }))
            .collect::<Vec<_>>()[..]
        else {
            return Err(syn::Error::new(
                function_name.span(),
                "#[tool(input)] takes exactly one input parameter: the input struct",
            ));
        };
        (quote!(#ty), quote!(), quote!(let #ident = input;))
    } else {
        let fields = params.iter().filter_map(|param| {
            let Param::Input { ident, ty, docs } = param else {
                return None;
            };
            let described = options
                .params
                .iter()
                .find(|(name, _)| name == ident)
                .map(|(_, text)| quote!(#[doc = #text]));
            Some(quote!(#(#docs)* #described #ident: #ty))
        });
        let input = format_ident!("{}Input", struct_name);
        let names = &input_names;
        (
            quote!(#input),
            quote! {
                #[derive(#private::serde::Deserialize, #private::schemars::JsonSchema)]
                #[serde(crate = #serde_crate)]
                #[schemars(crate = #schemars_crate)]
                #[allow(dead_code)]
                struct #input { #(#fields),* }
            },
            quote!(let #input { #(#names),* } = input;),
        )
    };
    let states: Vec<(&Ident, &syn::Type)> = params
        .iter()
        .filter_map(|param| match param {
            Param::State { ident, ty } => Some((ident, ty)),
            _ => None,
        })
        .collect();
    let arguments = params.iter().map(|param| match param {
        Param::Input { ident, .. } => quote!(#ident),
        Param::Context => quote!(context),
        Param::State { ident, .. } => quote!(&self.#ident),
    });
    let awaited = function.sig.asyncness.map(|_| quote!(.await));
    let struct_doc = format!("The `{}` tool: {description}", tool_name.value());
    let (struct_def, constructor) = if states.is_empty() {
        (
            quote! {
                #[doc = #struct_doc]
                #[derive(Debug, Clone, Copy, Default)]
                #visibility struct #struct_name;
            },
            quote!(),
        )
    } else {
        let fields = states.iter().map(|(ident, ty)| quote!(#ident: #ty));
        let arguments = states.iter().map(|(ident, ty)| quote!(#ident: #ty));
        let names = states.iter().map(|(ident, _)| ident);
        (
            quote! {
                #[doc = #struct_doc]
                #[derive(Debug, Clone)]
                #visibility struct #struct_name { #(#fields),* }
            },
            quote! {
                impl #struct_name {
                    /// The tool with its own state.
                    #visibility fn new(#(#arguments),*) -> Self {
                        Self { #(#names),* }
                    }
                }
            },
        )
    };
    let input_used = if input_names.is_empty() && !options.whole_input {
        quote!(let _ = &input;)
    } else {
        quote!()
    };
    Ok(quote! {
        #function

        #struct_def
        #constructor

        const _: () = {
            #input_struct

            #[#private::async_trait]
            impl ::agent_core::Tool for #struct_name {
                fn spec(&self) -> ::agent_core::ToolSpec {
                    ::agent_core::ToolSpec {
                        name: #tool_name.into(),
                        description: #description.into(),
                        input_schema: #private::input_schema::<#input_type>(),
                    }
                }

                #[allow(unused_variables)]
                async fn call(
                    &self,
                    input: #private::serde_json::Value,
                    context: &::agent_core::ToolContext,
                ) -> ::std::result::Result<::agent_core::ToolOutput, ::agent_core::ToolError> {
                    let input: #input_type = #private::parse_input(input)?;
                    #input_used
                    #bind_input
                    #private::IntoToolResult::into_tool_result(#function_name(#(#arguments),*) #awaited)
                }
            }
        };
    })
}

/// A doc comment's text as rustdoc reads it: lines of one paragraph joined by a space,
/// paragraphs by a blank line; `None` when there is none.
fn doc_text(attributes: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attributes
        .iter()
        .filter_map(|attribute| match &attribute.meta {
            Meta::NameValue(pair) if pair.path.is_ident("doc") => match &pair.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(text),
                    ..
                }) => Some(text.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.trim().to_owned())
        .collect();
    let paragraphs: Vec<String> = lines
        .split(String::is_empty)
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| paragraph.join(" "))
        .collect();
    let text = paragraphs.join("\n\n");
    (!text.is_empty()).then_some(text)
}

/// `get_time` → `GetTime`.
fn upper_camel(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}
