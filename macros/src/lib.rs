//! `#[scoped]`: each field's scope requirement, declared once with `#[scopes(…)]`, becomes
//! both the field's guard and its `@requiresScopes` directive in the schema.
//!
//! async-graphql takes a field's guard and its schema directives as two separate attributes
//! (`#[graphql(guard = …, directive = …)]`), so a requirement written twice could drift. This
//! attribute, placed above `#[Object]`, `#[ComplexObject]`, `#[Subscription]` or
//! `#[derive(SimpleObject)]`, rewrites every `#[scopes(…)]` on a method or field into one
//! `#[graphql(…)]` that holds both, before async-graphql's own macro reads it:
//!
//! ```text
//! #[scopes(["todos:read"], ["todos:write"])]   // alternatives, each a list that must all be held
//! #[graphql(guard = "SignedIn")]
//! async fn todo(…)
//! // becomes
//! #[graphql(guard = "(SignedIn).and(crate::auth::scopes::Scoped(REQUIREMENT))",
//!           directive = crate::auth::scopes::RequiresScopes::apply(REQUIREMENT))]
//! ```
//!
//! `#[scopes(public)]` declares a field that needs no scope (`@requiresScopes(scopes: [[]])`):
//! it gets the directive and no scope guard. Scope names are checked when the crate compiles:
//! `"todos:read"` names the variant `Scope::TodosRead`, and a misspelt name is no variant.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprArray, ExprLit, Item, Lit, LitStr, Meta, Token, bracketed};

/// Rewrites the `#[scopes(…)]` of every method of an impl block, or every field of a struct,
/// into the guard and the directive async-graphql reads. See the crate documentation.
#[proc_macro_attribute]
pub fn scoped(args: TokenStream, input: TokenStream) -> TokenStream {
    if !args.is_empty() {
        let error = syn::Error::new(Span::call_site(), "#[scoped] takes no arguments");
        return error.to_compile_error().into();
    }
    let mut item = syn::parse_macro_input!(input as Item);
    let result = match &mut item {
        Item::Impl(block) => block.items.iter_mut().try_for_each(|member| match member {
            syn::ImplItem::Fn(method) => rewrite(&mut method.attrs),
            _ => Ok(()),
        }),
        Item::Struct(structure) => structure.fields.iter_mut().try_for_each(|field| rewrite(&mut field.attrs)),
        other => Err(syn::Error::new_spanned(other, "#[scoped] goes on an impl block or a struct")),
    };
    match result {
        Ok(()) => item.into_token_stream().into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// A field's declared requirement: alternatives, each a list of scope names.
struct Requirement {
    alternatives: Vec<Vec<LitStr>>,
}

impl Parse for Requirement {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(syn::Ident) {
            let word: syn::Ident = input.parse()?;
            if word != "public" {
                return Err(syn::Error::new(word.span(), "expected `public` or lists of scope names"));
            }
            return Ok(Self { alternatives: vec![Vec::new()] });
        }
        let mut alternatives = Vec::new();
        while !input.is_empty() {
            let content;
            bracketed!(content in input);
            let names = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
            if names.is_empty() {
                return Err(content.error("an empty alternative needs no scope: write #[scopes(public)]"));
            }
            alternatives.push(names.into_iter().collect());
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        if alternatives.is_empty() {
            return Err(input.error("declare at least one alternative, or `public`"));
        }
        Ok(Self { alternatives })
    }
}

impl Requirement {
    fn is_public(&self) -> bool {
        self.alternatives.iter().all(Vec::is_empty)
    }

    /// The sentence that ends the field's description.
    fn sentence(&self) -> String {
        if self.is_public() {
            return "Scopes: none needed.".to_owned();
        }
        let alternatives: Vec<String> = self
            .alternatives
            .iter()
            .map(|all| all.iter().map(|name| format!("`{}`", name.value())).collect::<Vec<_>>().join(" and "))
            .collect();
        format!("Scopes: {}.", alternatives.join(", or "))
    }

    /// `crate::auth::scopes::Requirement(&[&[Scope::TodosRead], …])`, a constant.
    fn expression(&self) -> syn::Result<Tokens> {
        let mut alternatives = Vec::new();
        for alternative in &self.alternatives {
            let scopes = alternative.iter().map(variant).collect::<syn::Result<Vec<_>>>()?;
            alternatives.push(quote!(&[#(crate::auth::scopes::Scope::#scopes),*]));
        }
        Ok(quote!(crate::auth::scopes::Requirement(&[#(#alternatives),*])))
    }
}

/// The `Scope` variant a scope name spells: `"todos:read"` is `TodosRead`.
fn variant(name: &LitStr) -> syn::Result<syn::Ident> {
    let value = name.value();
    let valid = !value.is_empty()
        && value.split(':').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()));
    if !valid {
        return Err(syn::Error::new(name.span(), "a scope name is lower-case words joined by `:`"));
    }
    let camel: String = value
        .split(':')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    Ok(syn::Ident::new(&camel, name.span()))
}

/// Replaces the `#[scopes(…)]` among `attrs`, if any, by a guard and a directive merged into
/// the item's `#[graphql(…)]` (created when there is none).
fn rewrite(attrs: &mut Vec<Attribute>) -> syn::Result<()> {
    let Some(position) = attrs.iter().position(|attr| attr.path().is_ident("scopes")) else {
        return Ok(());
    };
    let declaration = attrs.remove(position);
    if let Some(second) = attrs.iter().find(|attr| attr.path().is_ident("scopes")) {
        return Err(syn::Error::new_spanned(second, "declare a field's scopes once"));
    }
    let requirement: Requirement = declaration.parse_args()?;
    let constant = requirement.expression()?;
    let mut metas = Punctuated::<Meta, Token![,]>::new();
    let existing = attrs.iter().position(|attr| attr.path().is_ident("graphql"));
    if let Some(index) = existing {
        metas = attrs.remove(index).parse_args_with(Punctuated::parse_terminated)?;
    }
    if !requirement.is_public() {
        let scoped = quote!(crate::auth::scopes::Scoped(#constant));
        let guard = match metas.iter().position(|meta| meta.path().is_ident("guard")) {
            Some(index) => {
                let Meta::NameValue(existing) = &metas[index] else {
                    return Err(syn::Error::new_spanned(&metas[index], "expected `guard = …`"));
                };
                let own = guard_expression(&existing.value)?;
                quote!((#own).and(#scoped))
            }
            None => scoped,
        };
        metas = metas.into_iter().filter(|meta| !meta.path().is_ident("guard")).collect();
        let guard = LitStr::new(&guard.to_string(), Span::call_site());
        metas.push(syn::parse_quote!(guard = #guard));
    }
    metas.push(syn::parse_quote!(directive = crate::auth::scopes::RequiresScopes::apply(#constant)));
    // The requirement also ends the field's description: introspection (the playground's
    // docs) shows descriptions but not the directives applied to a field.
    let line = LitStr::new(&requirement.sentence(), Span::call_site());
    attrs.push(syn::parse_quote!(#[doc = #line]));
    attrs.push(syn::parse_quote!(#[graphql(#metas)]));
    Ok(())
}

/// The expression of an existing `guard = …`: written as a string (async-graphql's usual
/// form) or as an expression.
fn guard_expression(value: &Expr) -> syn::Result<Expr> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => text.parse(),
        Expr::Array(ExprArray { .. }) => Err(syn::Error::new_spanned(value, "expected a guard expression")),
        other => Ok(other.clone()),
    }
}
