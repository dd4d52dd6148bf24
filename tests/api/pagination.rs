//! Relay cursor pagination: walks without gaps or repeats in every order and direction.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, error_code};

const PAGE: &str =
    "query($first: Int, $after: String, $last: Int, $before: String, $order: TodoOrder, $filter: TodoFilter) {
  todos(first: $first, after: $after, last: $last, before: $before, orderBy: $order, filter: $filter) {
    totalCount
    edges { cursor node { id title createdAt updatedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

async fn page(app: &TestApp, user: &TestUser, variables: Value) -> Value {
    let body = app.as_user(user, PAGE, variables).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["todos"].clone()
}

fn ids(connection: &Value) -> Vec<String> {
    connection["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()).collect()
}

/// A user with `n` todos whose titles repeat (to exercise tie-breaking).
async fn seeded(app: &TestApp, n: usize) -> (TestUser, Vec<String>) {
    let user = app.sign_up().await;
    let mut created = Vec::new();
    for i in 0..n {
        created.push(app.create_todo(&user, &format!("title {}", i % 3)).await);
    }
    (user, created)
}

#[tokio::test]
async fn default_order_is_newest_first_with_twenty_per_page() {
    let app = TestApp::spawn().await;
    let (user, created) = seeded(&app, 25).await;
    let first = page(&app, &user, json!({})).await;
    let expected: Vec<String> = created.iter().rev().take(20).cloned().collect();
    assert_eq!(ids(&first), expected);
    assert_eq!(first["totalCount"], 25);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(first["pageInfo"]["startCursor"], first["edges"][0]["cursor"]);
    assert_eq!(first["pageInfo"]["endCursor"], first["edges"][19]["cursor"]);
}

#[tokio::test]
async fn forward_and_backward_walks_visit_every_todo_once_in_every_order() {
    let app = TestApp::spawn().await;
    let (user, created) = seeded(&app, 23).await;
    // Make updatedAt differ from createdAt order.
    for id in created.iter().step_by(4) {
        app.as_user(&user, "mutation($id: ID!) { toggleTodo(id: $id) { id } }", json!({ "id": id })).await;
    }
    for field in ["CREATED_AT", "UPDATED_AT", "TITLE"] {
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": direction });
            let all = ids(&page(&app, &user, json!({ "first": 100, "order": order })).await);
            assert_eq!(all.len(), 23);

            let mut forward = Vec::new();
            let mut after = Value::Null;
            loop {
                let p = page(&app, &user, json!({ "first": 5, "after": after, "order": order })).await;
                assert_eq!(p["totalCount"], 23);
                assert_eq!(p["pageInfo"]["hasPreviousPage"], !forward.is_empty(), "{field} {direction}");
                forward.extend(ids(&p));
                if p["pageInfo"]["hasNextPage"] == false {
                    break;
                }
                after = p["pageInfo"]["endCursor"].clone();
            }
            assert_eq!(forward, all, "forward walk {field} {direction}");

            let mut backward = Vec::new();
            let mut before = Value::Null;
            loop {
                let p = page(&app, &user, json!({ "last": 5, "before": before, "order": order })).await;
                assert_eq!(p["pageInfo"]["hasNextPage"], !backward.is_empty(), "{field} {direction}");
                let mut chunk = ids(&p);
                chunk.extend(backward);
                backward = chunk;
                if p["pageInfo"]["hasPreviousPage"] == false {
                    break;
                }
                before = p["pageInfo"]["startCursor"].clone();
            }
            assert_eq!(backward, all, "backward walk {field} {direction}");
        }
    }
}

#[tokio::test]
async fn cursors_stay_valid_when_todos_are_inserted() {
    let app = TestApp::spawn().await;
    let (user, created) = seeded(&app, 10).await;
    let first = page(&app, &user, json!({ "first": 4 })).await;
    for _ in 0..3 {
        app.create_todo(&user, "newer").await;
    }
    let next = page(&app, &user, json!({ "first": 4, "after": first["pageInfo"]["endCursor"] })).await;
    let expected: Vec<String> = created.iter().rev().skip(4).take(4).cloned().collect();
    assert_eq!(ids(&next), expected);
    assert_eq!(next["totalCount"], 13);
    assert_eq!(next["pageInfo"]["hasPreviousPage"], true);
}

#[tokio::test]
async fn first_and_last_together_follow_the_relay_algorithm() {
    let app = TestApp::spawn().await;
    let (user, created) = seeded(&app, 10).await;
    let asc = json!({ "field": "CREATED_AT", "direction": "ASC" });
    let p = page(&app, &user, json!({ "first": 6, "last": 2, "order": asc })).await;
    assert_eq!(ids(&p), created[4..6].to_vec());
    assert_eq!(p["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(p["pageInfo"]["hasNextPage"], true);
    let empty = page(&app, &user, json!({ "first": 0 })).await;
    assert_eq!(ids(&empty), Vec::<String>::new());
    assert_eq!(empty["pageInfo"]["startCursor"], Value::Null);
    assert_eq!(empty["pageInfo"]["hasNextPage"], true);
    assert_eq!(empty["totalCount"], 10);
}

#[tokio::test]
async fn page_sizes_outside_zero_to_one_hundred_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    for (variables, field) in
        [(json!({ "first": 101 }), "first"), (json!({ "first": -1 }), "first"), (json!({ "last": 101 }), "last")]
    {
        let body = app.as_user(&user, PAGE, variables).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
}

#[tokio::test]
async fn foreign_or_garbled_cursors_are_bad_input_not_errors() {
    let app = TestApp::spawn().await;
    let (user, _) = seeded(&app, 3).await;
    let by_title = page(&app, &user, json!({ "first": 1, "order": { "field": "TITLE", "direction": "ASC" } })).await;
    let title_cursor = by_title["pageInfo"]["endCursor"].clone();
    for cursor in [json!("garbage"), json!("eyJub3QiOiJhIGN1cnNvciJ9"), title_cursor] {
        let body = app.as_user(&user, PAGE, json!({ "first": 2, "after": cursor })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "after");
    }
}

#[tokio::test]
async fn total_count_honours_the_filter_whatever_the_cursor() {
    let app = TestApp::spawn().await;
    let (user, _) = seeded(&app, 9).await;
    let filter = json!({ "search": "title 1" });
    let first = page(&app, &user, json!({ "first": 1, "filter": filter })).await;
    assert_eq!(first["totalCount"], 3);
    let second =
        page(&app, &user, json!({ "first": 1, "after": first["pageInfo"]["endCursor"], "filter": filter })).await;
    assert_eq!(second["totalCount"], 3);
    assert_ne!(ids(&first), ids(&second));
}
