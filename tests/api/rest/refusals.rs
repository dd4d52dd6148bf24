//! FastAPI's refusals on every route: 401 with `WWW-Authenticate` for a missing or unusable
//! token, 404 for a task that is not the caller's, 422 naming the field for bad input. (403
//! for another user's path is the ownership matrix's, in `ownership.rs`.) The collection
//! routes name no task, so they have no 404; the routes on one task take no input besides
//! its id (an opaque string), so PUT is the only one of them with a 422.

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{Reply, complete, id_of, task, tasks};
use crate::helpers::{SECRET, TestApp, now, sign};

/// Every route for `user`'s task `id`, with a valid body where it takes one.
pub(super) fn every_route(user: &str, id: &str) -> Vec<(Method, String, Option<Value>)> {
    let body = || Some(json!({ "title": "valid" }));
    vec![
        (Method::GET, tasks(user), None),
        (Method::POST, tasks(user), body()),
        (Method::GET, task(user, id), None),
        (Method::PUT, task(user, id), body()),
        (Method::DELETE, task(user, id), None),
        (Method::PATCH, complete(user, id), None),
    ]
}

fn assert_unauthorized(reply: &Reply, context: &str) {
    assert_eq!(reply.status, 401, "{context}: {reply:?}");
    assert_eq!(reply.header("www-authenticate"), "Bearer error=\"invalid_token\"", "{context}");
    assert!(!reply.detail().is_empty(), "{context}: {reply:?}");
}

#[tokio::test]
async fn every_route_refuses_a_missing_or_unusable_token_with_401_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let kept = app.create_task(&ann, "kept").await;
    let ghost = "01900000-0000-7000-8000-000000000000";
    let claims = |sub: &str, exp: i64| json!({ "sub": sub, "iat": now() - 10, "exp": exp });
    let expired = sign(&claims(&ann.id, now() - 3600), SECRET);
    let forged = sign(&claims(&ann.id, now() + 600), "another-secret-that-is-at-least-32-bytes!");
    let deleted = sign(&claims(ghost, now() + 600), SECRET);
    for (method, path, body) in every_route(&ann.id, &id_of(&kept)) {
        let route = format!("{method} {path}");
        let reply = app.rest(method.clone(), &path, None, body.clone()).await;
        assert_unauthorized(&reply, &format!("{route} without a token"));
        assert_eq!(reply.detail(), "Not authenticated", "FastAPI's words");
        for (token, expected) in [
            (expired.as_str(), "the token has expired"),
            (forged.as_str(), "the token's signature does not verify"),
            ("not.a.jwt", "the token is malformed"),
        ] {
            let reply = app.rest(method.clone(), &path, Some(token), body.clone()).await;
            assert_unauthorized(&reply, &format!("{route} with {expected}"));
            assert_eq!(reply.detail(), expected, "{route}");
        }
        let basic = app.client.request(method.clone(), app.url(&path)).header("authorization", "Basic YTpi");
        let basic = basic.send().await.expect("request");
        assert_eq!(basic.status(), 401, "{route} with a Basic credential");
        // A valid token of a user who no longer exists, on that user's own path.
        let ghost_path = path.replace(&ann.id, ghost);
        let reply = app.rest(method.clone(), &ghost_path, Some(&deleted), body.clone()).await;
        assert_unauthorized(&reply, &format!("{route} for a deleted user"));
    }
    assert_eq!(app.list_tasks(&ann, "").await, vec![kept], "nothing changed");
    assert!(app.metric("todoql_auth_failures_total{reason=\"the token has expired\"}").await >= 6);
}

#[tokio::test]
async fn a_stranger_gets_401_before_any_word_about_the_input() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let reply = app.rest_raw(Method::POST, &tasks(&ann.id), None, Some(("application/json", "{not json"))).await;
    assert_unauthorized(&reply, "bad JSON without a token");
    let reply = app.rest(Method::GET, &format!("{}?limit=abc", tasks(&ann.id)), None, None).await;
    assert_unauthorized(&reply, "a bad query without a token");
}

#[tokio::test]
async fn every_route_on_one_task_answers_404_for_an_id_that_names_nothing() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let kept = app.create_task(&ann, "kept").await;
    for id in ["01900000-0000-7000-8000-000000000000", "not-an-id", "%27%20OR%201%3D1--", "%F0%9F%8D%8E"] {
        for (method, path, body) in every_route(&ann.id, id).into_iter().skip(2) {
            let reply = app.rest(method.clone(), &path, Some(&ann.token), body).await;
            assert_eq!(reply.status, 404, "{method} {path}: {reply:?}");
            assert_eq!(reply.detail(), "no task with this id");
        }
    }
    assert_eq!(app.list_tasks(&ann, "").await, vec![kept], "nothing changed");
    // Paths no route serves get FastAPI's own 404.
    let reply = app.rest(Method::GET, &format!("/api/{}/projects", ann.id), Some(&ann.token), None).await;
    assert_eq!((reply.status, reply.detail()), (404, "Not Found"));
}

/// The first issue of a 422.
fn issue(reply: &Reply) -> (&Value, &str) {
    assert_eq!(reply.status, 422, "{reply:?}");
    let first = &reply.body["detail"][0];
    (&first["loc"], first["type"].as_str().unwrap_or_else(|| panic!("no type in {reply:?}")))
}

#[tokio::test]
async fn bad_bodies_of_post_and_put_are_422_naming_the_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let kept = app.create_task(&ann, "kept").await;
    let json = "application/json";
    let cases: Vec<(Option<&str>, String, Value, &str)> = vec![
        (Some(json), json!({}).to_string(), json!(["body", "title"]), "missing"),
        (Some(json), json!({ "title": 7 }).to_string(), json!(["body", "title"]), "string_type"),
        (Some(json), json!({ "title": null }).to_string(), json!(["body", "title"]), "string_type"),
        (Some(json), json!({ "title": "  \t " }).to_string(), json!(["body", "title"]), "value_error"),
        (Some(json), json!({ "title": "t".repeat(201) }).to_string(), json!(["body", "title"]), "value_error"),
        (
            Some(json),
            json!({ "title": "ok", "description": "d".repeat(2001) }).to_string(),
            json!(["body", "description"]),
            "value_error",
        ),
        (
            Some(json),
            json!({ "title": "ok", "description": ["x"] }).to_string(),
            json!(["body", "description"]),
            "string_type",
        ),
        (Some(json), "{\"title\": \"ok\",}".to_owned(), json!(["body", 15]), "json_invalid"),
        (Some(json), "[{\"title\": \"ok\"}]".to_owned(), json!(["body"]), "model_attributes_type"),
        (Some(json), String::new(), json!(["body"]), "missing"),
        (Some("text/plain"), json!({ "title": "ok" }).to_string(), json!(["body"]), "model_attributes_type"),
    ];
    let paths = [(Method::POST, tasks(&ann.id)), (Method::PUT, task(&ann.id, &id_of(&kept)))];
    for (method, path) in &paths {
        for (content_type, body, loc, kind) in &cases {
            let reply =
                app.rest_raw(method.clone(), path, Some(&ann.token), content_type.map(|t| (t, body.as_str()))).await;
            assert_eq!(issue(&reply), (loc, *kind), "{method} {body:.40}: {reply:?}");
            assert!(reply.body["detail"][0]["msg"].as_str().is_some_and(|m| !m.is_empty()), "{reply:?}");
        }
        // Every field at fault is named at once.
        let body = json!({ "title": "", "description": 5, "completed": "yes" });
        let reply = app.rest(method.clone(), path, Some(&ann.token), Some(body)).await;
        let named: Vec<&Value> =
            reply.body["detail"].as_array().expect("issues").iter().map(|i| &i["loc"][1]).collect();
        let expected = if *method == Method::PUT {
            vec!["title", "description", "completed"]
        } else {
            vec!["title", "description"]
        };
        assert_eq!(named, expected, "{method}: {reply:?}");
    }
    let reply =
        app.rest(Method::PUT, &paths[1].1, Some(&ann.token), Some(json!({ "title": "ok", "completed": 1 }))).await;
    assert_eq!(issue(&reply), (&json!(["body", "completed"]), "bool_type"));
    assert_eq!(app.list_tasks(&ann, "").await, vec![kept], "nothing changed");

    // Lengths are characters, not bytes.
    let body = json!({ "title": "🍎".repeat(200), "description": "é".repeat(2000) });
    let reply = app.rest(Method::POST, &tasks(&ann.id), Some(&ann.token), Some(body)).await;
    assert_eq!(reply.status, 201, "{reply:?}");
}

#[tokio::test]
async fn bad_query_parameters_of_the_list_are_422_naming_each_parameter() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let path = format!("{}?status=done&sort=newest&limit=ten&offset=1.5", tasks(&ann.id));
    let reply = app.rest(Method::GET, &path, Some(&ann.token), None).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    let issues: Vec<(&Value, &Value)> =
        reply.body["detail"].as_array().expect("issues").iter().map(|i| (&i["loc"], &i["type"])).collect();
    let expected = [
        (json!(["query", "status"]), json!("enum")),
        (json!(["query", "sort"]), json!("enum")),
        (json!(["query", "limit"]), json!("int_parsing")),
        (json!(["query", "offset"]), json!("int_parsing")),
    ];
    assert_eq!(issues, expected.iter().map(|(l, t)| (l, t)).collect::<Vec<_>>(), "{reply:?}");
}
