//! Refuses hostile documents before anything runs, and gives every error a stable code.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Response, ServerError, ServerResult, ValidationResult, Variables};

/// The deepest selection a document may have (introspection excepted).
pub const MAX_DEPTH: usize = 10;
/// The deepest an introspection subtree (`__schema`, `__type`) may go: GraphiQL's standard
/// introspection query nests `ofType` about 13 levels.
const MAX_INTROSPECTION_DEPTH: usize = 20;
/// The complexity budget: a full `todos(first: 100)` page with every field fits.
pub const MAX_COMPLEXITY: usize = 5_000;
/// The most root fields one operation may select.
pub const MAX_ROOT_FIELDS: usize = 20;
/// The most aliased fields one document may hold.
pub const MAX_ALIASES: usize = 30;
/// The most directives on one field.
pub const MAX_DIRECTIVES: usize = 4;

/// The limits extension.
pub(super) struct Limits;

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Limits)
    }
}

#[async_trait::async_trait]
impl Extension for Limits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await.map_err(|e| {
            let code = if e.message.contains("number of directives") {
                "TOO_MANY_DIRECTIVES"
            } else if e.message.contains("recursion depth") {
                "QUERY_TOO_DEEP"
            } else {
                "GRAPHQL_PARSE_FAILED"
            };
            coded(e, code)
        })?;
        let fragments = &document.fragments;
        let aliases = aliases(&document);
        if aliases > MAX_ALIASES {
            let message = format!("the document has {aliases} aliases; at most {MAX_ALIASES} are allowed");
            return Err(coded(ServerError::new(message, None), "QUERY_TOO_COMPLEX"));
        }
        for (_, operation) in document.operations.iter() {
            let roots = operation.node.selection_set.node.items.len();
            if roots > MAX_ROOT_FIELDS {
                let message = format!("the operation selects {roots} root fields; at most {MAX_ROOT_FIELDS} are allowed");
                return Err(coded(ServerError::new(message, Some(operation.pos)), "QUERY_TOO_COMPLEX"));
            }
            let depth = depth(&operation.node.selection_set.node, fragments, &mut HashSet::new());
            if depth > MAX_DEPTH {
                let message = format!("the query is {depth} levels deep; at most {MAX_DEPTH} are allowed");
                return Err(coded(ServerError::new(message, Some(operation.pos)), "QUERY_TOO_DEEP"));
            }
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let code = if e.message.contains("too complex") {
                        "QUERY_TOO_COMPLEX"
                    } else {
                        "GRAPHQL_VALIDATION_FAILED"
                    };
                    coded(e, code)
                })
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        // Resolvers code their own errors; what is left is input coercion by async-graphql.
        response.errors = response.errors.into_iter().map(|e| coded(e, "BAD_USER_INPUT")).collect();
        response
    }
}

/// Sets `extensions.code` unless the error has one.
fn coded(mut error: ServerError, code: &str) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

/// How deep a selection set goes, following fragments; introspection subtrees are
/// measured against their own limit and count as one level here.
fn depth(
    set: &SelectionSet,
    fragments: &std::collections::HashMap<Name, Positioned<FragmentDefinition>>,
    visiting: &mut HashSet<Name>,
) -> usize {
    set.items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                let below = depth(&field.node.selection_set.node, fragments, visiting);
                if name == "__schema" || name == "__type" {
                    if below + 1 > MAX_INTROSPECTION_DEPTH { usize::MAX / 2 } else { 1 }
                } else {
                    below + 1
                }
            }
            Selection::InlineFragment(inline) => depth(&inline.node.selection_set.node, fragments, visiting),
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                // A cycle is a validation error reported later; it must not loop here.
                let Some(fragment) = fragments.get(name) else { return 0 };
                if !visiting.insert(name.clone()) {
                    return 0;
                }
                let found = depth(&fragment.node.selection_set.node, fragments, visiting);
                visiting.remove(name);
                found
            }
        })
        .max()
        .unwrap_or(0)
}

/// How many fields of the document carry an alias (operations and fragments, once each).
fn aliases(document: &ExecutableDocument) -> usize {
    fn count(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(field) => {
                    usize::from(field.node.alias.is_some()) + count(&field.node.selection_set.node)
                }
                Selection::InlineFragment(inline) => count(&inline.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let in_operations: usize = document.operations.iter().map(|(_, op)| count(&op.node.selection_set.node)).sum();
    let in_fragments: usize = document.fragments.values().map(|f| count(&f.node.selection_set.node)).sum();
    in_operations + in_fragments
}
