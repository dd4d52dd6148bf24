//! Whether a request's variables fit the types its operation declares: the one check of
//! validation that depends on the request rather than the document (besides complexity, which
//! the validated schema measures anyway).
//!
//! Trusted documents are validated once, at start ([`super::trusted`]); a request that names
//! one runs without validation when its variables fit. The check is conservative: anything it
//! cannot vouch for (a custom scalar, an unknown type, a float where an `Int` goes) sends the
//! request down the ordinary path, whose full validation answers exactly as it would for the
//! same document sent as text.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{BaseType, OperationDefinition, Type, TypeKind, TypeSystemDefinition};
use async_graphql::{Value as ConstValue, Variables};

/// The input types of a schema, read from its SDL.
#[derive(Default)]
pub struct InputTypes(HashMap<String, Input>);

enum Input {
    Enum(HashSet<String>),
    /// Fields: name, type, whether it has a default.
    Object(Vec<(String, Type, bool)>),
}

impl InputTypes {
    /// The enums and input objects of the schema `sdl` describes (empty if it does not parse).
    pub fn from_sdl(sdl: &str) -> Self {
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else { return Self::default() };
        let mut types = HashMap::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else { continue };
            let definition = definition.node;
            let input = match definition.kind {
                TypeKind::Enum(e) => Input::Enum(e.values.into_iter().map(|v| v.node.value.node.to_string()).collect()),
                TypeKind::InputObject(o) => Input::Object(
                    o.fields
                        .into_iter()
                        .map(|f| (f.node.name.node.to_string(), f.node.ty.node, f.node.default_value.is_some()))
                        .collect(),
                ),
                _ => continue,
            };
            types.insert(definition.name.node.to_string(), input);
        }
        Self(types)
    }

    /// Whether `variables` give every variable `operation` declares a value of its type
    /// (variables it does not declare are ignored, as the GraphQL specification says).
    pub fn fit(&self, operation: &OperationDefinition, variables: &Variables) -> bool {
        operation.variable_definitions.iter().all(|definition| {
            let definition = &definition.node;
            match variables.get(definition.name.node.as_str()) {
                Some(value) => self.value_fits(&definition.var_type.node, value),
                None => definition.var_type.node.nullable || definition.default_value.is_some(),
            }
        })
    }

    fn value_fits(&self, ty: &Type, value: &ConstValue) -> bool {
        match (value, &ty.base) {
            (ConstValue::Null, _) => ty.nullable,
            (ConstValue::List(items), BaseType::List(item)) => items.iter().all(|v| self.value_fits(item.as_ref(), v)),
            // A single value where a list goes is a list of one.
            (_, BaseType::List(item)) => self.value_fits(item.as_ref(), value),
            (_, BaseType::Named(name)) => self.named_fits(name.as_str(), value),
        }
    }

    fn named_fits(&self, name: &str, value: &ConstValue) -> bool {
        match (name, value) {
            ("Int", ConstValue::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            ("Float", ConstValue::Number(_)) | ("String", ConstValue::String(_)) => true,
            ("Boolean", ConstValue::Boolean(_)) => true,
            ("ID", ConstValue::String(_)) => true,
            ("ID", ConstValue::Number(n)) => n.is_i64() || n.is_u64(),
            _ => match (self.0.get(name), value) {
                (Some(Input::Enum(values)), ConstValue::String(v)) => values.contains(v.as_str()),
                (Some(Input::Enum(values)), ConstValue::Enum(v)) => values.contains(v.as_str()),
                (Some(Input::Object(fields)), ConstValue::Object(given)) => {
                    given.keys().all(|key| fields.iter().any(|(name, _, _)| name == key.as_str()))
                        && fields.iter().all(|(name, ty, has_default)| match given.get(name.as_str()) {
                            Some(value) => self.value_fits(ty, value),
                            None => ty.nullable || *has_default,
                        })
                }
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::DocumentOperations;
    use serde_json::json;

    use super::*;

    fn fits(query: &str, variables: serde_json::Value) -> bool {
        let inputs = InputTypes::from_sdl(&crate::graphql::sdl());
        let document = parse_query(query).expect("a query");
        let DocumentOperations::Multiple(operations) = document.operations else { panic!("name the operation") };
        let operation = operations.into_values().next().expect("an operation");
        inputs.fit(&operation.node, &Variables::from_json(variables))
    }

    const CREATE: &str = "mutation Create($input: CreateTodoInput!) { createTodo(input: $input) { id } }";
    const PAGE: &str = "query Page($first: Int, $filter: TodoFilter, $order: TodoOrder) { todos(first: $first, filter: $filter, orderBy: $order) { totalCount } }";

    #[test]
    fn variables_of_the_declared_types_fit() {
        assert!(fits(CREATE, json!({ "input": { "title": "a", "description": null } })));
        assert!(fits(PAGE, json!({})));
        assert!(fits(
            PAGE,
            json!({ "first": 5, "filter": { "completed": true }, "order": { "field": "TITLE", "direction": "ASC" } })
        ));
    }

    #[test]
    fn anything_else_does_not() {
        assert!(!fits(CREATE, json!({})), "a missing non-null variable");
        assert!(!fits(CREATE, json!({ "input": null })), "null for a non-null variable");
        assert!(!fits(CREATE, json!({ "input": { "description": "no title" } })), "a missing non-null field");
        assert!(!fits(CREATE, json!({ "input": { "title": "a", "colour": "red" } })), "an unknown field");
        assert!(!fits(CREATE, json!({ "input": { "title": 7 } })), "a number for a string");
        assert!(!fits(PAGE, json!({ "first": "5" })), "a string for an Int");
        assert!(!fits(PAGE, json!({ "first": 1.5 })), "a float for an Int");
        assert!(!fits(PAGE, json!({ "first": 4_294_967_296_i64 })), "an Int beyond 32 bits");
        assert!(!fits(PAGE, json!({ "order": { "field": "COLOUR", "direction": "ASC" } })), "an unknown enum value");
    }
}
