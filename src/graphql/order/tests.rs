use async_graphql::parser::parse_query;
use async_graphql::{Value, Variables};
use serde_json::json;

use super::Order;

/// `response` put in the order `query` selects.
fn ordered(query: &str, variables: serde_json::Value, response: serde_json::Value) -> String {
    let document = parse_query(query).unwrap();
    let variables = Variables::from_json(variables);
    let order = Order::of(&document, None, &variables).unwrap();
    let mut value = Value::from_json(response).unwrap();
    order.apply(&mut value);
    value.into_json().unwrap().to_string()
}

#[test]
fn root_fields_and_aliases_come_in_selection_order() {
    let answer = ordered(
        "{ b: todos(first: 1) { totalCount nodes { id title } } a: me { id } c: me { email } }",
        json!({}),
        json!({"c": {"email": "e"}, "a": {"id": "1"}, "b": {"nodes": [{"title": "t", "id": "2"}], "totalCount": 1}}),
    );
    assert_eq!(answer, r#"{"b":{"totalCount":1,"nodes":[{"id":"2","title":"t"}]},"a":{"id":"1"},"c":{"email":"e"}}"#);
}

#[test]
fn fragments_are_inlined_where_they_are_spread_and_keys_merge_at_their_first_place() {
    let answer = ordered(
        "query { me { ...Who } todos { ... on TodoConnection { totalCount } nodes { id } } me { name } }
         fragment Who on User { email id }",
        json!({}),
        json!({"todos": {"nodes": [{"id": "1"}], "totalCount": 3}, "me": {"name": "n", "id": "1", "email": "e"}}),
    );
    assert_eq!(answer, r#"{"me":{"email":"e","id":"1","name":"n"},"todos":{"totalCount":3,"nodes":[{"id":"1"}]}}"#);
}

#[test]
fn a_key_skipped_where_it_first_appears_takes_its_first_included_place() {
    let query = "query($s: Boolean!, $i: Boolean = false) { a @skip(if: $s) b a c @include(if: $i) c }";
    let answer = ordered(query, json!({"s": true}), json!({"c": 3, "a": 1, "b": 2}));
    assert_eq!(answer, r#"{"b":2,"a":1,"c":3}"#);
    let answer = ordered(query, json!({"s": false, "i": true}), json!({"c": 3, "b": 2, "a": 1}));
    assert_eq!(answer, r#"{"a":1,"b":2,"c":3}"#);
}

#[test]
fn absent_fields_and_nulls_are_left_as_they_are() {
    let answer = ordered("{ a { x y } b { x } }", json!({}), json!({"b": null, "a": {"y": 1}}));
    assert_eq!(answer, r#"{"a":{"y":1},"b":null}"#);
}

#[test]
fn a_fragment_cycle_ends() {
    let document = parse_query("{ ...A } fragment A on Query { me { id } ...A }").unwrap();
    let order = Order::of(&document, None, &Variables::default()).unwrap();
    assert_eq!(order.keys.len(), 1);
}

#[test]
fn no_operation_no_order() {
    let document = parse_query("query A { me { id } } query B { me { id } }").unwrap();
    assert!(Order::of(&document, None, &Variables::default()).is_none());
    assert!(Order::of(&document, Some("B"), &Variables::default()).is_some());
}
