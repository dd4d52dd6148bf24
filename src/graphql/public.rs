//! Which operations are public: those whose root fields are all sign-in mutations.
//!
//! Such an operation ignores the `Authorization` header, so a client holding an expired or
//! broken token can always sign in or refresh again.

use std::collections::HashSet;

use async_graphql::Positioned;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};

/// Root fields that need no user.
const PUBLIC_FIELDS: [&str; 5] = ["signUp", "signIn", "refreshSession", "signOut", "__typename"];
/// The fields whose arguments are credentials (passwords, refresh tokens).
const CREDENTIAL_FIELDS: [&str; 4] = ["signUp", "signIn", "refreshSession", "signOut"];

/// The operation a request runs: the one named, or the only one when none is named. As
/// async-graphql's executor decides: a name never picks an anonymous operation.
pub fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), None) => Some(op),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    }
}

/// Whether the operation `operation_name` selects has only public root fields. A document
/// that names no such operation is not public.
pub fn is_public_operation(document: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    selected_operation(document, operation_name)
        .is_some_and(|operation| all_public(&operation.node.selection_set.node, document, &mut HashSet::new()))
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

/// Whether any operation or fragment of the document selects a field whose arguments are
/// credentials: such a document, and its variables, are not kept past the request.
pub(crate) fn carries_credentials(document: &ExecutableDocument) -> bool {
    fn any(set: &SelectionSet) -> bool {
        set.items.iter().any(|selection| match &selection.node {
            Selection::Field(field) => {
                CREDENTIAL_FIELDS.contains(&field.node.name.node.as_str()) || any(&field.node.selection_set.node)
            }
            Selection::InlineFragment(inline) => any(&inline.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    document.operations.iter().any(|(_, op)| any(&op.node.selection_set.node))
        || document.fragments.values().any(|f| any(&f.node.selection_set.node))
}
