//! The document cache: a repeated request skips parsing and validation, and never at the
//! cost of a limit or an error.

use serde_json::json;

use crate::helpers::{TestApp, error_code, without_cost};

const PARSE_HITS: &str = r#"todoql_graphql_document_cache_total{stage="parse",result="hit"}"#;
const VALIDATION_HITS: &str = r#"todoql_graphql_document_cache_total{stage="validation",result="hit"}"#;
const VALIDATION_MISSES: &str = r#"todoql_graphql_document_cache_total{stage="validation",result="miss"}"#;

/// Complexity grows with `$n` squared: `$n = 1` fits the budget, `$n = 100` is far over it.
const NESTED: &str =
    "query Nested($n: Int) { todos(first: $n) { nodes { owner { todos(first: $n) { nodes { id title } } } } } }";

#[tokio::test]
async fn the_same_query_twice_is_parsed_and_validated_once() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    app.create_todo(&user, "cached").await;
    let read = "{ todos(first: 20) { nodes { id title completed } } }";
    let first = app.as_user(&user, read, json!({})).await;
    let second = app.as_user(&user, read, json!({})).await;
    assert_eq!(without_cost(first), without_cost(second.clone()));
    assert_eq!(second["data"]["todos"]["nodes"][0]["title"], "cached", "{second}");
    // The read's second request: one parse hit, one validation hit; createTodo's text is held too.
    assert_eq!(app.metric(PARSE_HITS).await, 1);
    assert_eq!(app.metric(VALIDATION_HITS).await, 1);
    assert_eq!(app.metric("todoql_graphql_document_cache_entries").await, 2);
}

#[tokio::test]
async fn operations_that_carry_credentials_are_never_cached() {
    let app = TestApp::spawn().await;
    app.sign_up().await;
    app.sign_up().await;
    assert_eq!(app.metric(PARSE_HITS).await, 0);
    assert_eq!(app.metric("todoql_graphql_document_cache_entries").await, 0);
}

#[tokio::test]
async fn variables_that_make_a_cached_query_too_complex_are_still_refused() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let small = app.as_user(&user, NESTED, json!({ "n": 1 })).await;
    assert!(small.get("errors").is_none(), "{small}");
    let (status, body) = app.post(Some(&user.token), NESTED, json!({ "n": 100 })).await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(body.get("data").is_none(), "{body}");
    // The text was parsed once; the new variables were validated afresh.
    assert_eq!(app.metric(PARSE_HITS).await, 1);
    assert_eq!(app.metric(VALIDATION_HITS).await, 0);
    let again = app.as_user(&user, NESTED, json!({ "n": 1 })).await;
    assert_eq!(without_cost(again), without_cost(small));
    assert_eq!(app.metric(VALIDATION_HITS).await, 1);
    // The same text under another operation name is validated afresh too.
    let unknown = app.client.post(app.url("/graphql")).bearer_auth(&user.token);
    let unknown = unknown.json(&json!({ "query": NESTED, "variables": { "n": 1 }, "operationName": "Other" }));
    let body: serde_json::Value = unknown.send().await.expect("request").json().await.expect("body");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("Other")), "{body}");
    assert_eq!(app.metric(VALIDATION_HITS).await, 1);
}

#[tokio::test]
async fn a_request_that_failed_validation_fails_the_same_way_every_time() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    for (query, variables, code) in [
        ("{ todos(first: 1) { nodes { nope } } }", json!({}), "GRAPHQL_VALIDATION_FAILED"),
        (NESTED, json!({ "n": 100 }), "QUERY_TOO_COMPLEX"),
        ("query($n: Int) { todos(first: $n) { totalCount } }", json!({ "n": "many" }), "GRAPHQL_VALIDATION_FAILED"),
    ] {
        let (_, first) = app.post(Some(&user.token), query, variables.clone()).await;
        let (_, second) = app.post(Some(&user.token), query, variables).await;
        assert_eq!(error_code(&first), code, "{query}: {first}");
        assert_eq!(first, second, "{query}");
    }
    assert_eq!(app.metric(PARSE_HITS).await, 3);
    assert_eq!(app.metric(VALIDATION_HITS).await, 0);
    assert!(app.metric(VALIDATION_MISSES).await >= 6);
}

/// A request whose validation the cache holds runs on the schema without the checks
/// extension (`Schemas::execute`): it must answer exactly as the full schema did the first
/// time, guards, scoping and error codes included.
#[tokio::test]
async fn a_request_served_from_a_cached_validation_answers_as_the_first_did() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.sign_up().await, app.sign_up().await);
    let id = app.create_todo(&alice, "alice's").await;
    app.create_todo(&bob, "bob's").await;
    let page = "query($n: Int) { todos(first: $n) { totalCount nodes { id title owner { id } } } }";
    let one = "query($id: ID!) { todo(id: $id) { id title } }";
    let me = "{ me { id todos(first: 5) { nodes { title } } } }";
    let toggle = "mutation($id: ID!) { toggleTodo(id: $id) { id } }";
    let cases: Vec<(Option<&str>, &str, serde_json::Value, &str)> = vec![
        (Some(&alice.token), page, json!({ "n": 5 }), ""),
        (Some(&bob.token), page, json!({ "n": 5 }), ""),
        (None, page, json!({ "n": 5 }), "UNAUTHENTICATED"),
        (Some(&bob.token), one, json!({ "id": id }), ""), // null: not his
        (Some(&bob.token), toggle, json!({ "id": id }), "NOT_FOUND"),
        (Some(&alice.token), page, json!({ "n": 101 }), "BAD_USER_INPUT"),
        (Some(&alice.token), me, json!({}), ""),
        (None, me, json!({}), "UNAUTHENTICATED"),
    ];
    for (token, query, variables, code) in &cases {
        let first = app.post(*token, query, variables.clone()).await;
        let hits = app.metric(VALIDATION_HITS).await;
        let second = app.post(*token, query, variables.clone()).await;
        assert_eq!(app.metric(VALIDATION_HITS).await, hits + 1, "{query} {variables}: from the cache");
        assert_eq!((first.0, without_cost(first.1)), (second.0, without_cost(second.1.clone())), "{query} {variables}");
        if code.is_empty() {
            assert!(second.1.get("errors").is_none(), "{query} {variables}: {}", second.1);
        } else {
            assert_eq!(error_code(&second.1), *code, "{query} {variables}: {}", second.1);
        }
    }
    // Scoped to the token's user on both paths.
    let (_, none) = app.post(Some(&bob.token), one, json!({ "id": id })).await;
    assert_eq!(none["data"]["todo"], serde_json::Value::Null, "{none}");
    let (_, bobs) = app.post(Some(&bob.token), page, json!({ "n": 5 })).await;
    assert_eq!(bobs["data"]["todos"]["nodes"][0]["title"], "bob's", "{bobs}");
    assert_eq!(bobs["data"]["todos"]["totalCount"], 1, "{bobs}");
}
