//! The REST routes obey the same scopes: reads need `todos:read`, writes `todos:write`; a
//! refusal is FastAPI's 403 with RFC 6750's challenge.

use serde_json::{Value, json};

use super::support::{pat, revoke, scoped_jwt};
use crate::helpers::TestApp;

async fn call(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> (u16, Option<String>, Value) {
    let mut request = app.client.request(method.clone(), app.url(path)).bearer_auth(token);
    if method == reqwest::Method::POST {
        request = request.json(&json!({ "title": "over REST" }));
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().expect("ASCII").to_owned());
    (status, challenge, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn rest_reads_need_todos_read_and_writes_need_todos_write_whatever_the_token() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let tasks = format!("/api/{}/tasks", user.id);
    let (_, reader) = pat(&app, &user, &["todos:read"]).await;
    let (_, writer) = pat(&app, &user, &["todos:write"]).await;
    for (read_only, write_only) in
        [(reader, writer), (scoped_jwt(&user, &["todos:read"]), scoped_jwt(&user, &["todos:write"]))]
    {
        let (status, _, body) = call(&app, reqwest::Method::GET, &tasks, &read_only).await;
        assert_eq!(status, 200, "{body}");
        let (status, challenge, body) = call(&app, reqwest::Method::POST, &tasks, &read_only).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(challenge.as_deref(), Some("Bearer error=\"insufficient_scope\", scope=\"todos:write\""));
        assert!(body["detail"].as_str().is_some_and(|d| d.contains("todos:write")), "{body}");
        let (status, _, body) = call(&app, reqwest::Method::POST, &tasks, &write_only).await;
        assert_eq!(status, 201, "{body}");
        let task = format!("{tasks}/{}", body["id"].as_str().expect("id"));
        let (status, challenge, _) = call(&app, reqwest::Method::GET, &task, &write_only).await;
        assert_eq!(
            (status, challenge.as_deref()),
            (403, Some("Bearer error=\"insufficient_scope\", scope=\"todos:read\""))
        );
        let (status, _, _) = call(&app, reqwest::Method::DELETE, &task, &write_only).await;
        assert_eq!(status, 204);
    }
}

#[tokio::test]
async fn a_personal_access_token_reaches_only_its_own_users_rest_routes_until_revoked() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let stranger = app.sign_up().await;
    let (id, token) = pat(&app, &user, &["todos:read"]).await;
    let (status, _, _) = call(&app, reqwest::Method::GET, &format!("/api/{}/tasks", stranger.id), &token).await;
    assert_eq!(status, 403, "another user's path");
    assert!(revoke(&app, &user, &id).await);
    let (status, challenge, body) = call(&app, reqwest::Method::GET, &format!("/api/{}/tasks", user.id), &token).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer error=\"invalid_token\"")), "{body}");
}
