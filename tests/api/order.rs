//! Response fields come in the order the document selects them (GraphQL spec §7.1), however
//! long each takes: async-graphql resolves a query's fields concurrently and writes each as
//! it completes. `Todo.owner` waits for a batch of the user loader, so a field selected
//! before it but resolved after the rest shows the difference.

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The keys of a JSON object, in order (serde_json keeps the order it read).
fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().map(String::as_str).collect()
}

const QUERY: &str = "query($skip: Boolean = true) {
    b: todos(first: 2) { nodes { owner { id } ...Plain } totalCount }
    a: me { id }
    skipped: me @skip(if: $skip) { id }
    c: todos(first: 1) { totalCount pageInfo { hasNextPage } nodes { owner { email } id } }
    skipped: me { email }
    d: __typename
}
fragment Plain on Todo { id title }";

fn assert_in_selection_order(body: &Value) {
    let data = &body["data"];
    assert_eq!(keys(data), ["b", "a", "c", "skipped", "d"], "{body}");
    assert_eq!(keys(&data["b"]), ["nodes", "totalCount"], "{body}");
    for node in data["b"]["nodes"].as_array().expect("nodes") {
        assert_eq!(keys(node), ["owner", "id", "title"], "{body}");
    }
    assert_eq!(keys(&data["c"]), ["totalCount", "pageInfo", "nodes"], "{body}");
    assert_eq!(keys(&data["c"]["nodes"][0]), ["owner", "id"], "{body}");
}

#[tokio::test]
async fn fields_come_in_selection_order_on_first_sight_and_from_the_document_cache() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    app.create_todo(&user, "first").await;
    app.create_todo(&user, "second").await;
    // The first request validates the document; the later ones run from the cache.
    for _ in 0..3 {
        let body = app.as_user(&user, QUERY, json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        assert_in_selection_order(&body);
    }
    // The skipped field takes its place where it is included, as the variable says.
    let body = app.as_user(&user, QUERY, json!({ "skip": false })).await;
    assert_eq!(keys(&body["data"]), ["b", "a", "skipped", "c", "d"], "{body}");
}

#[tokio::test]
async fn fields_come_in_selection_order_over_get() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    app.create_todo(&user, "first").await;
    for _ in 0..2 {
        let response = app
            .client
            .get(app.url("/graphql"))
            .query(&[("query", QUERY)])
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("request");
        let body: Value = response.json().await.expect("JSON");
        assert_in_selection_order(&body);
    }
}
