//! Response fields in the order the document selected them.
//!
//! The GraphQL specification (§7.1, Serialized Map Ordering) asks that a response's fields
//! come in the order `CollectFields` gives: the order in which the document selects them,
//! fragments inlined. async-graphql resolves a query's fields concurrently and writes each
//! into the response as it completes, so a field that waits on the database can come after
//! the ones selected after it: `{ b: todos { … } a: me { … } }` may answer `a` first. Clients
//! that read a response as a stream, snapshot tests and humans reading a response all rely on
//! the order.
//!
//! [`Order::of`] reads the order off the operation once, before it runs — response keys in
//! selection order, each with the order of its own selection (every occurrence of a key
//! merged, fragments and inline fragments followed, `@skip`/`@include` evaluated with the
//! request's variables) — and [`Order::apply`] puts a response's objects in that order,
//! touching only the objects that are out of it. Type conditions are not consulted: todoql's
//! schema has no interfaces or unions, so every fragment that applies at all applies to the
//! one type its place can hold.
//!
//! Both walks are bounded by what the document checks ([`super::shape`],
//! [`super::hostile`]) allow before anything runs: at most [`super::MAX_NESTING`] levels and
//! [`super::limits::MAX_SELECTIONS`] selections once fragments are inlined.

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Request, Value, Variables};

/// The order of an object's fields in a response, and of the objects under each.
#[derive(Debug, Default, PartialEq)]
pub struct Order {
    keys: Vec<(Name, Order)>,
}

/// Where an order is read from: the document, the operation's variables and their defaults.
struct Reading<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    defaults: &'a [Positioned<async_graphql::parser::types::VariableDefinition>],
}

impl Order {
    /// The order of the operation `operation_name` picks in `document`, or `None` when it
    /// picks none (the request then fails before it runs).
    pub fn of(document: &ExecutableDocument, operation_name: Option<&str>, variables: &Variables) -> Option<Order> {
        let operation = super::selected_operation(document, operation_name)?;
        let reading = Reading { document, variables, defaults: &operation.node.variable_definitions };
        Some(reading.order(&[&operation.node.selection_set.node]))
    }

    /// The order of the operation `request` runs, once its document is attached.
    pub fn of_request(request: &mut Request) -> Option<Order> {
        // The parsed document is borrowed from the request as a whole.
        let variables = std::mem::take(&mut request.variables);
        let operation_name = request.operation_name.take();
        let order =
            request.parsed_query().ok().and_then(|document| Order::of(document, operation_name.as_deref(), &variables));
        request.variables = variables;
        request.operation_name = operation_name;
        order
    }

    /// Puts every object of `value` that this order covers in its order.
    pub fn apply(&self, value: &mut Value) {
        if self.keys.is_empty() {
            return;
        }
        match value {
            Value::Object(fields) => {
                if !self.holds(fields) {
                    self.rearrange(fields);
                }
                // A leaf's order is empty: no lookup for it (most of a page's fields).
                for (key, order) in self.keys.iter().filter(|(_, order)| !order.keys.is_empty()) {
                    if let Some(value) = fields.get_mut(key) {
                        order.apply(value);
                    }
                }
            }
            Value::List(items) => items.iter_mut().for_each(|item| self.apply(item)),
            _ => {}
        }
    }

    /// Whether `fields` come in this order already (fields skipped or failed are absent).
    fn holds(&self, fields: &IndexMap<Name, Value>) -> bool {
        let mut keys = self.keys.iter();
        fields.keys().all(|field| keys.any(|(key, _)| key == field))
    }

    fn rearrange(&self, fields: &mut IndexMap<Name, Value>) {
        let mut unordered = std::mem::take(fields);
        fields.reserve(unordered.len());
        for (key, _) in &self.keys {
            if let Some(value) = unordered.swap_remove(key) {
                fields.insert(key.clone(), value);
            }
        }
        // Nothing else is selected; should anything be, it keeps its place after the rest.
        fields.extend(unordered);
    }
}

impl<'a> Reading<'a> {
    /// The order of the fields `sets` select together (one object's selections: every
    /// occurrence of its key in the parent's selection sets).
    fn order(&self, sets: &[&'a SelectionSet]) -> Order {
        let mut keys: Vec<(Name, Vec<&'a SelectionSet>)> = Vec::new();
        for set in sets {
            self.collect(set, &mut keys, &mut Vec::new());
        }
        Order {
            keys: keys
                .into_iter()
                .map(|(key, sets)| {
                    let order = if sets.is_empty() { Order::default() } else { self.order(&sets) };
                    (key, order)
                })
                .collect(),
        }
    }

    /// `CollectFields`: the response keys `set` selects, in order, fragments inlined, with
    /// the selection sets under each. `spreading` holds the fragments being inlined, so a
    /// cycle (which validation refuses anyway) ends.
    fn collect(
        &self,
        set: &'a SelectionSet,
        keys: &mut Vec<(Name, Vec<&'a SelectionSet>)>,
        spreading: &mut Vec<&'a str>,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if !self.included(&field.directives) {
                        continue;
                    }
                    let key = field.response_key().node.clone();
                    let index = match keys.iter().position(|(k, _)| *k == key) {
                        Some(index) => index,
                        None => {
                            keys.push((key, Vec::new()));
                            keys.len() - 1
                        }
                    };
                    if !field.selection_set.node.items.is_empty() {
                        keys[index].1.push(&field.selection_set.node);
                    }
                }
                Selection::InlineFragment(inline) => {
                    if self.included(&inline.node.directives) {
                        self.collect(&inline.node.selection_set.node, keys, spreading);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if !self.included(&spread.node.directives) || spreading.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.document.fragments.get(name) {
                        spreading.push(name);
                        self.collect(&fragment.node.selection_set.node, keys, spreading);
                        spreading.pop();
                    }
                }
            }
        }
    }

    /// Whether `@skip` and `@include` keep a selection. An `if` that cannot be read (which
    /// validation refuses) keeps it.
    fn included(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().all(|directive| {
            let directive = &directive.node;
            let keep_when = match directive.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => return true,
            };
            self.condition(directive).is_none_or(|condition| condition == keep_when)
        })
    }

    fn condition(&self, directive: &Directive) -> Option<bool> {
        let condition = directive.get_argument("if")?.node.clone().into_const_with(|name| {
            let value = self.variables.get(&name).cloned().or_else(|| {
                let definition = self.defaults.iter().find(|d| d.node.name.node == name)?;
                definition.node.default_value.as_ref().map(|default| default.node.clone())
            });
            value.ok_or(())
        });
        match condition {
            Ok(Value::Boolean(condition)) => Some(condition),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
