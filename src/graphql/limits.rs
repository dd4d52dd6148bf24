//! Refuses hostile documents before anything runs, and gives every error a stable code.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{
    IntrospectionMode, Name, Positioned, Request, Response, ServerError, ServerResult, ValidationResult, Variables,
};

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
/// The most selections an operation may hold once its fragments are inlined: GraphiQL's
/// introspection query has a few hundred. It bounds the work of everything that walks the
/// document inline (the checks below, async-graphql's complexity check, execution) against
/// fragments that spread each other many times over, a few hundred bytes growing
/// exponentially.
pub const MAX_SELECTIONS: usize = 2_000;

/// The limits extension.
pub(super) struct Limits;

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Limits)
    }
}

#[async_trait::async_trait]
impl Extension for Limits {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Measured here, before async-graphql's own parse-time checks (recursion depth,
        // directives): those follow every fragment spread afresh, so fragments that spread each
        // other ten times over would take them exponential time. The HTTP layer has parsed the
        // document already; a document that does not parse is reported by `parse_query`.
        if let Ok(document) = request.parsed_query() {
            refuse_hostile(ctx, document)?;
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|e| {
            let code = if e.message.contains("number of directives") {
                "TOO_MANY_DIRECTIVES"
            } else if e.message.contains("recursion depth") {
                "QUERY_TOO_DEEP"
            } else {
                "GRAPHQL_PARSE_FAILED"
            };
            coded(e, code)
        })
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

/// Refuses a document over any limit, before anything walks it inline.
fn refuse_hostile(ctx: &ExtensionContext<'_>, document: &ExecutableDocument) -> ServerResult<()> {
    if ctx.schema_env.registry.introspection_mode == IntrospectionMode::Disabled && introspects(document) {
        // async-graphql would answer `null` without a word; say it, like a validation error.
        let message = "introspection is disabled on this server";
        return Err(coded(ServerError::new(message, None), "GRAPHQL_VALIDATION_FAILED"));
    }
    let aliases = aliases(document);
    if aliases > MAX_ALIASES {
        let message = format!("the document has {aliases} aliases; at most {MAX_ALIASES} are allowed");
        return Err(coded(ServerError::new(message, None), "QUERY_TOO_COMPLEX"));
    }
    let mut measure = Measure { fragments: &document.fragments, done: HashMap::new(), visiting: HashSet::new() };
    for (_, operation) in document.operations.iter() {
        let extent = measure.set(&operation.node.selection_set.node);
        if extent.selections > MAX_SELECTIONS {
            let message =
                format!("the operation holds over {MAX_SELECTIONS} selections once its fragments are inlined");
            return Err(coded(ServerError::new(message, Some(operation.pos)), "QUERY_TOO_COMPLEX"));
        }
        let roots = extent.fields;
        if roots > MAX_ROOT_FIELDS {
            let message = format!("the operation selects {roots} root fields; at most {MAX_ROOT_FIELDS} are allowed");
            return Err(coded(ServerError::new(message, Some(operation.pos)), "QUERY_TOO_COMPLEX"));
        }
        let depth = extent.depth;
        if depth > MAX_DEPTH {
            let message = format!("the query is {depth} levels deep; at most {MAX_DEPTH} are allowed");
            return Err(coded(ServerError::new(message, Some(operation.pos)), "QUERY_TOO_DEEP"));
        }
    }
    Ok(())
}

/// Sets `extensions.code` unless the error has one.
fn coded(mut error: ServerError, code: &str) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

/// What a selection set amounts to once its fragments are inlined.
#[derive(Clone, Copy, Default)]
struct Extent {
    /// Levels of fields; an introspection subtree (`__schema`, `__type`) is measured against
    /// its own limit and counts as one level here.
    depth: usize,
    /// Fields at the top level of the set (inline fragments and spreads flattened): for an
    /// operation, its root fields.
    fields: usize,
    /// Fields, inline fragments and spreads, all levels (saturating).
    selections: usize,
}

/// Measures selection sets, each fragment once: a fragment measures the same wherever it is
/// spread, so fragments that spread each other many times over cost their size, not their
/// expansion.
struct Measure<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    done: HashMap<Name, Extent>,
    visiting: HashSet<Name>,
}

impl Measure<'_> {
    fn set(&mut self, set: &SelectionSet) -> Extent {
        let mut extent = Extent::default();
        for selection in &set.items {
            let inner = match &selection.node {
                Selection::Field(field) => {
                    let below = self.set(&field.node.selection_set.node);
                    let name = field.node.name.node.as_str();
                    let depth = if name == "__schema" || name == "__type" {
                        if below.depth + 1 > MAX_INTROSPECTION_DEPTH { usize::MAX / 2 } else { 1 }
                    } else {
                        below.depth + 1
                    };
                    Extent { depth, fields: 1, selections: below.selections }
                }
                Selection::InlineFragment(inline) => self.set(&inline.node.selection_set.node),
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node),
            };
            extent.depth = extent.depth.max(inner.depth);
            extent.fields = extent.fields.saturating_add(inner.fields);
            extent.selections = extent.selections.saturating_add(inner.selections).saturating_add(1);
        }
        extent
    }

    fn fragment(&mut self, name: &Name) -> Extent {
        if let Some(extent) = self.done.get(name) {
            return *extent;
        }
        let Some(fragment) = self.fragments.get(name) else { return Extent::default() };
        // A cycle is a validation error reported later; it must not loop here.
        if !self.visiting.insert(name.clone()) {
            return Extent::default();
        }
        let extent = self.set(&fragment.node.selection_set.node);
        self.visiting.remove(name);
        self.done.insert(name.clone(), extent);
        extent
    }
}

/// Whether any field of the document is `__schema` or `__type`.
fn introspects(document: &ExecutableDocument) -> bool {
    fn any(set: &SelectionSet) -> bool {
        set.items.iter().any(|selection| match &selection.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "__schema" | "__type") || any(&field.node.selection_set.node)
            }
            Selection::InlineFragment(inline) => any(&inline.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    document.operations.iter().any(|(_, op)| any(&op.node.selection_set.node))
        || document.fragments.values().any(|f| any(&f.node.selection_set.node))
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
