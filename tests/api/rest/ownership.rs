//! The cross-user matrix: A's token on B's path, and A's path with B's task id, on every route.
//! The REST layer decides only the first (the path's `{user_id}` must be the token's `sub`);
//! the second is the store's, which answers another user's task exactly as a missing one.

use reqwest::Method;
use serde_json::{Value, json};

use super::refusals::every_route;
use super::support::{id_of, task, tasks};
use crate::helpers::{TestApp, TestUser};

/// Everything `user` has, as REST and GraphQL show it.
async fn holdings(app: &TestApp, user: &TestUser) -> (Vec<Value>, Value) {
    let listed = app.list_tasks(user, "").await;
    let graphql = app
        .as_user(user, "{ todos { totalCount nodes { id title description completed updatedAt } } }", json!({}))
        .await;
    (listed, crate::helpers::without_cost(graphql))
}

#[tokio::test]
async fn a_token_on_another_users_path_is_403_on_every_route_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (ann, bob) = (app.sign_up().await, app.sign_up().await);
    let bobs = id_of(&app.create_task(&bob, "bob's").await);
    let before = holdings(&app, &bob).await;
    let missing = "01900000-0000-7000-8000-000000000000";
    for id in [bobs.as_str(), missing] {
        for (method, path, body) in every_route(&bob.id, id) {
            let reply = app.rest(method.clone(), &path, Some(&ann.token), body).await;
            assert_eq!(reply.status, 403, "ann on {method} {path}: {reply:?}");
            assert_eq!(reply.detail(), "this is not yours to see or change");
        }
    }
    // The path must be the token's subject exactly.
    let shouted = tasks(&ann.id.to_uppercase());
    assert_eq!(app.rest(Method::GET, &shouted, Some(&ann.token), None).await.status, 403);
    assert_eq!(holdings(&app, &bob).await, before, "bob's tasks are as they were");
    assert_eq!(app.list_tasks(&ann, "").await, Vec::<Value>::new(), "and ann got none of them");
}

#[tokio::test]
async fn another_users_task_on_the_callers_own_path_is_404_like_a_missing_one_and_stays_untouched() {
    let app = TestApp::spawn().await;
    let (ann, bob) = (app.sign_up().await, app.sign_up().await);
    let body = json!({ "title": "bob's secret", "description": "only bob" });
    let bobs = app.rest(Method::POST, &tasks(&bob.id), Some(&bob.token), Some(body)).await.body;
    let before = holdings(&app, &bob).await;
    let missing = "01900000-0000-7000-8000-000000000000";
    for ((method, path, body), (_, missing_path, _)) in
        every_route(&ann.id, &id_of(&bobs)).into_iter().zip(every_route(&ann.id, missing)).skip(2)
    {
        let theirs = app.rest(method.clone(), &path, Some(&ann.token), body.clone()).await;
        let nothing = app.rest(method.clone(), &missing_path, Some(&ann.token), body).await;
        assert_eq!(theirs.status, 404, "ann on {method} {path}: {theirs:?}");
        assert_eq!((theirs.status, &theirs.body), (nothing.status, &nothing.body), "no hint that it exists");
    }
    assert_eq!(app.list_tasks(&ann, "?search=secret").await, Vec::<Value>::new());
    assert_eq!(holdings(&app, &bob).await, before, "bob's task is as it was");
    let read = app.rest(Method::GET, &task(&bob.id, &id_of(&bobs)), Some(&bob.token), None).await;
    assert_eq!(read.body, bobs, "and bob still reads it");
}
