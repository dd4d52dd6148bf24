//! The document cache: a repeated request skips parsing and validation, and never at the
//! cost of a limit or an error.

use serde_json::json;

use crate::helpers::{TestApp, error_code};

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
    assert_eq!(first, second);
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
    assert_eq!(again, small);
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
