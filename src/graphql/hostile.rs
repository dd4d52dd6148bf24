//! The checks that refuse a hostile document before anything walks it inline: introspection
//! when it is disabled, too many aliases, selections, root fields or levels.
//!
//! The walks here recurse: they run only on documents [`super::shape`] has measured, so they
//! go at most [`super::MAX_NESTING`] levels deep.

use std::collections::{HashMap, HashSet};

use async_graphql::extensions::ExtensionContext;
use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{IntrospectionMode, Name, Positioned, ServerError, ServerResult};

use super::limits::{MAX_ALIASES, MAX_DEPTH, MAX_INTROSPECTION_DEPTH, MAX_ROOT_FIELDS, MAX_SELECTIONS, coded};

/// Refuses a document over any limit, before anything walks it inline.
pub(super) fn refuse_hostile(ctx: &ExtensionContext<'_>, document: &ExecutableDocument) -> ServerResult<()> {
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
