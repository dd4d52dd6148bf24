//! Speaking REST to a `TestApp`.

#![allow(dead_code)]

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser};

/// An answer: status, headers and the JSON body (`Null` when there is none).
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON, `Null` when empty.
    pub body: Value,
}

impl Reply {
    /// A header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The `detail` message of a refusal.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_else(|| panic!("no detail message in {self:?}"))
    }
}

/// `/api/{user_id}/tasks`.
pub(crate) fn tasks(user_id: &str) -> String {
    format!("/api/{user_id}/tasks")
}

/// `/api/{user_id}/tasks/{id}`.
pub(crate) fn task(user_id: &str, id: &str) -> String {
    format!("/api/{user_id}/tasks/{id}")
}

/// `/api/{user_id}/tasks/{id}/complete`.
pub(crate) fn complete(user_id: &str, id: &str) -> String {
    format!("/api/{user_id}/tasks/{id}/complete")
}

impl TestApp {
    /// Sends a REST request with a bearer token when given and a JSON body when given.
    pub(crate) async fn rest(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let raw = body.map(|body| ("application/json", body.to_string()));
        self.rest_raw(method, path, token, raw.as_ref().map(|(t, b)| (*t, b.as_str()))).await
    }

    /// Sends a REST request whose body (with its `Content-Type`) is given as text.
    pub(crate) async fn rest_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body.to_owned());
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
        };
        Reply { status, headers, body }
    }

    /// `user`'s tasks over REST, as listed with `query` (e.g. `?status=pending`).
    pub(crate) async fn list_tasks(&self, user: &TestUser, query: &str) -> Vec<Value> {
        let reply = self.rest(Method::GET, &format!("{}{query}", tasks(&user.id)), Some(&user.token), None).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body.as_array().unwrap_or_else(|| panic!("not a list: {reply:?}")).clone()
    }

    /// Creates a task for `user` over REST; returns it.
    pub(crate) async fn create_task(&self, user: &TestUser, title: &str) -> Value {
        let body = json!({ "title": title });
        let reply = self.rest(Method::POST, &tasks(&user.id), Some(&user.token), Some(body)).await;
        assert_eq!(reply.status, 201, "{reply:?}");
        reply.body
    }
}

/// The `id` of a task.
pub(crate) fn id_of(task: &Value) -> String {
    task["id"].as_str().unwrap_or_else(|| panic!("no id in {task}")).to_owned()
}
