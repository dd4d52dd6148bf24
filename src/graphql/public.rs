//! Which operations are public: those whose root fields are all sign-in mutations.
//!
//! Such an operation ignores the `Authorization` header, so a client holding an expired or
//! broken token can always sign in or refresh again.

use std::collections::HashSet;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};

/// Root fields that need no user.
const PUBLIC_FIELDS: [&str; 5] = ["signUp", "signIn", "refreshSession", "signOut", "__typename"];

/// Whether the operation `operation_name` selects (of `query`) has only public root fields.
/// A document that does not parse, or names no such operation, is not public.
pub fn is_public_operation(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return false,
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.values().next() {
            Some(op) => op,
            None => return false,
        },
        _ => return false,
    };
    all_public(&operation.node.selection_set.node, &document, &mut HashSet::new())
}

fn all_public(set: &SelectionSet, document: &ExecutableDocument, seen: &mut HashSet<String>) -> bool {
    set.items.iter().all(|selection| match &selection.node {
        Selection::Field(field) => PUBLIC_FIELDS.contains(&field.node.name.node.as_str()),
        Selection::InlineFragment(inline) => all_public(&inline.node.selection_set.node, document, seen),
        Selection::FragmentSpread(spread) => {
            let name = spread.node.fragment_name.node.as_str();
            match document.fragments.get(name) {
                Some(fragment) if seen.insert(name.to_owned()) => {
                    all_public(&fragment.node.selection_set.node, document, seen)
                }
                _ => false,
            }
        }
    })
}
