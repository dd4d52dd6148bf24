//! Refusals for scope that clients can act on (RFC 6750 §3.1): when every root field of an
//! HTTP request was refused for scope, the response is 403 with
//! `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`.

use std::collections::HashSet;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, PathSegment, Response, Value};
use axum::http::HeaderValue;

use super::scope::{Scope, Scopes};

/// The `extensions` key of a refusal for scope.
pub const REQUIRED_SCOPES: &str = "requiredScopes";

/// The response keys (aliases, else names) of the root fields of the operation
/// `operation_name` selects in `document`, through fragments: taken before the request runs,
/// for [`refused_for_scope`] to compare its errors with.
pub fn root_keys(document: &ExecutableDocument, operation_name: Option<&str>) -> Vec<Name> {
    let mut keys = HashSet::new();
    if let Some(operation) = crate::graphql::selected_operation(document, operation_name) {
        collect(&operation.node.selection_set.node, document, &mut keys, &mut HashSet::new());
    }
    keys.into_iter().collect()
}

/// When every root field (`keys`, from [`root_keys`]) was refused for scope in `response`, the
/// scopes to name in `WWW-Authenticate`: the first alternative of each refused field's
/// requirement, together. `None` when any root field was not refused so.
pub fn refused_for_scope(keys: &[Name], response: &Response) -> Option<Scopes> {
    if response.errors.is_empty() || keys.is_empty() {
        return None;
    }
    let mut needed = Scopes::NONE;
    let mut refused = HashSet::new();
    for error in &response.errors {
        let (Some(PathSegment::Field(key)), 1) = (error.path.first(), error.path.len()) else {
            continue;
        };
        let Some(required) = error.extensions.as_ref().and_then(|e| e.get(REQUIRED_SCOPES)) else {
            continue;
        };
        needed = first_alternative(required).fold(needed, Scopes::with);
        refused.insert(key.as_str());
    }
    keys.iter().all(|key| refused.contains(key.as_str())).then_some(needed)
}

/// The `WWW-Authenticate` value of a refusal for `scopes`.
pub fn insufficient_scope(scopes: Scopes) -> HeaderValue {
    let value = format!("Bearer error=\"insufficient_scope\", scope=\"{}\"", scopes.to_claim());
    // Scope names are plain ASCII: the value is always valid.
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("Bearer error=\"insufficient_scope\""))
}

/// Collects the keys of `set` into `keys`. Directives (`@skip`) are not evaluated: a skipped
/// field counts as not refused, so such a request keeps its 200.
fn collect(set: &SelectionSet, document: &ExecutableDocument, keys: &mut HashSet<Name>, seen: &mut HashSet<String>) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let key = field.node.alias.as_ref().unwrap_or(&field.node.name);
                keys.insert(key.node.clone());
            }
            Selection::InlineFragment(inline) => collect(&inline.node.selection_set.node, document, keys, seen),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if let Some(fragment) = document.fragments.get(name)
                    && seen.insert(name.to_owned())
                {
                    collect(&fragment.node.selection_set.node, document, keys, seen);
                }
            }
        }
    }
}

/// The scopes of the first alternative of a `requiredScopes` value.
fn first_alternative(required: &Value) -> impl Iterator<Item = Scope> + '_ {
    let first = match required {
        Value::List(alternatives) => alternatives.first(),
        _ => None,
    };
    let names = match first {
        Some(Value::List(names)) => names.as_slice(),
        _ => &[],
    };
    names.iter().filter_map(|name| match name {
        Value::String(name) => Scope::named(name),
        _ => None,
    })
}
