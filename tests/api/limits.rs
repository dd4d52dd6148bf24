//! Hostile documents are refused before anything runs; GraphiQL's introspection still works.

use serde_json::json;

use crate::helpers::{TestApp, error_code};

/// GraphiQL's standard introspection query (graphql-js `getIntrospectionQuery`).
const INTROSPECTION: &str = r#"query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}"#;

#[tokio::test]
async fn graphiql_introspection_is_answered() {
    let app = TestApp::spawn().await;
    let body = app.anonymous(INTROSPECTION, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    assert_eq!(body["data"]["__schema"]["mutationType"]["name"], "Mutation");
}

#[tokio::test]
async fn queries_deeper_than_ten_levels_are_refused_before_running() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    // Depth 10 is allowed: me > todos > edges > node > owner > todos > nodes > owner > name = 9.
    let ok = "{ me { todos(first: 1) { edges { node { owner { todos(first: 1) { nodes { owner { name } } } } } } } } }";
    let body = app.as_user(&user, ok, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let deep = "{ me { todos(first: 1) { edges { node { owner { todos(first: 1) { edges { node { owner { todos(first: 1) { nodes { id } } } } } } } } } } } }";
    let before = app.statements().await;
    let (status, body) = app.post(Some(&user.token), deep, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), "QUERY_TOO_DEEP", "{body}");
    assert!(body.get("data").is_none());
    // Only the token's user lookup ran: nothing of the query itself.
    assert!(app.statements().await - before <= 1);
    // Fragments count too.
    let via_fragment = "{ me { ...A } } fragment A on User { todos(first: 1) { edges { node { owner { todos(first: 1) { edges { node { owner { todos(first: 1) { nodes { id } } } } } } } } } } }";
    assert_eq!(error_code(&app.as_user(&user, via_fragment, json!({})).await), "QUERY_TOO_DEEP");
}

#[tokio::test]
async fn a_full_hundred_item_page_fits_the_complexity_budget_but_nesting_does_not() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let full = "{ todos(first: 100) { totalCount edges { cursor node { id title description completed createdAt updatedAt owner { id email name createdAt } } } nodes { id title description completed createdAt updatedAt owner { id email name createdAt } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let body = app.as_user(&user, full, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let nested = "{ todos(first: 100) { nodes { owner { todos(first: 100) { nodes { id title } } } } } }";
    let (status, body) = app.post(Some(&user.token), nested, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    let aliased = "{ a: todos(first: 100) { nodes { id title description completed createdAt updatedAt } } b: todos(first: 100) { nodes { id title description completed createdAt updatedAt } } c: todos(first: 100) { nodes { id title description completed createdAt updatedAt } } d: todos(first: 100) { nodes { id title description completed createdAt updatedAt } } e: todos(first: 100) { nodes { id title description completed createdAt updatedAt } } f: todos(first: 100) { nodes { id title description completed createdAt updatedAt } } g: todos(first: 100) { nodes { id title description completed createdAt updatedAt } } h: todos(first: 100) { nodes { id title description completed createdAt updatedAt } } }";
    assert_eq!(error_code(&app.as_user(&user, aliased, json!({})).await), "QUERY_TOO_COMPLEX");
}

#[tokio::test]
async fn every_error_carries_a_code() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    for (query, code) in [
        ("{", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ todos(first: \"x\") { totalCount } }", "GRAPHQL_VALIDATION_FAILED"),
    ] {
        let body = app.as_user(&user, query, json!({})).await;
        assert_eq!(error_code(&body), code, "{query}: {body}");
    }
    let body = app.as_user(&user, "query($n: Int) { todos(first: $n) { totalCount } }", json!({ "n": "many" })).await;
    assert!(body["errors"][0]["extensions"]["code"].is_string(), "{body}");
}
