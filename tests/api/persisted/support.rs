//! What the persisted-document tests share: raw requests, hashes and manifests.

#![allow(unused_imports)]

pub(super) use reqwest::header::HeaderMap;
pub(super) use serde_json::{Value, json};
pub(super) use sha2::{Digest, Sha256};

pub(super) use crate::helpers::{TestApp, TestUser, error_code};

/// The read the typed client and the load test send.
pub(super) const TODOS: &str = "query Todos($first: Int) { todos(first: $first) { totalCount nodes { title } } }";
/// A mutation.
pub(super) const CREATE: &str = "mutation Create($input: CreateTodoInput!) { createTodo(input: $input) { title } }";
/// Both media types a client may accept: request errors are 400 with the first, 200 with the other.
pub(super) const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
pub(super) const JSON: &str = "application/json";

/// The SHA-256 of a text, in hex.
pub(super) fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `extensions.persistedQuery` for `hash`, as Apollo Client sends it.
pub(super) fn persisted_query(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// A response: status, headers, JSON body.
pub(super) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

/// POSTs `body` as JSON, accepting `accept`, with `user`'s token when given.
pub(super) async fn post(app: &TestApp, user: Option<&TestUser>, accept: &str, body: Value) -> Answer {
    let mut request = app.client.post(app.url("/graphql")).header("accept", accept).json(&body);
    if let Some(user) = user {
        request = request.bearer_auth(&user.token);
    }
    answer(request).await
}

/// GETs `/graphql` with these query parameters (JSON values are encoded as JSON strings).
pub(super) async fn get(app: &TestApp, user: Option<&TestUser>, accept: &str, params: &[(&str, Value)]) -> Answer {
    let params: Vec<(&str, String)> = params
        .iter()
        .map(|(key, value)| (*key, value.as_str().map_or_else(|| value.to_string(), str::to_owned)))
        .collect();
    let mut request = app.client.get(app.url("/graphql")).header("accept", accept).query(&params);
    if let Some(user) = user {
        request = request.bearer_auth(&user.token);
    }
    answer(request).await
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = response.json().await.expect("a JSON body");
    Answer { status, headers, body }
}

/// A body without `extensions.cost`, which tells how much of the caller's budget is left (and so
/// differs between two requests even when their answers are the same).
pub(super) fn without_cost(mut body: Value) -> Value {
    if let Some(extensions) = body.get_mut("extensions").and_then(Value::as_object_mut) {
        extensions.remove("cost");
        if extensions.is_empty() {
            body.as_object_mut().map(|body| body.remove("extensions"));
        }
    }
    body
}

/// Asserts `answer` is a success; returns its data.
pub(super) fn data(answer: &Answer) -> &Value {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.get("errors").is_none(), "{}", answer.body);
    &answer.body["data"]
}

/// A manifest in GraphQL Code Generator's format (`{"sha256:<hex>": text}`) in a folder of its
/// own; the folder lives as long as the returned guard.
pub(super) fn codegen_manifest(documents: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let manifest: serde_json::Map<String, Value> =
        documents.iter().map(|text| (format!("sha256:{}", sha256(text)), json!(text))).collect();
    write_manifest(&Value::Object(manifest))
}

/// Writes `manifest` into a fresh folder.
pub(super) fn write_manifest(manifest: &Value) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("persisted-documents.json");
    std::fs::write(&path, serde_json::to_vec_pretty(manifest).expect("JSON")).expect("write the manifest");
    (dir, path)
}

/// The value of one series of `/metrics`.
pub(super) async fn metric(app: &TestApp, series: &str) -> u64 {
    app.metric(series).await
}

pub(super) const PARSE_MISSES: &str = r#"todoql_graphql_document_cache_total{stage="parse",result="miss"}"#;
pub(super) const VALIDATION_MISSES: &str = r#"todoql_graphql_document_cache_total{stage="validation",result="miss"}"#;
