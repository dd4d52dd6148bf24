//! Refusals for scope that clients can act on: `FORBIDDEN` with `extensions.requiredScopes`
//! on each refused field; 403 with `WWW-Authenticate: Bearer error="insufficient_scope"` only
//! when every root field was refused for scope.

use base64::Engine;
use serde_json::{Value, json};

use super::support::scoped_jwt;
use crate::helpers::{TestApp, error_code};

async fn post(app: &TestApp, token: Option<&str>, query: &str) -> (u16, Option<String>, Value) {
    let mut request = app.client.post(app.url("/graphql")).json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().expect("ASCII").to_owned());
    (status, challenge, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn a_request_with_some_root_fields_allowed_answers_200_with_the_refused_fields_errors() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let profile_only = scoped_jwt(&user, &["profile:read"]);
    let (status, challenge, body) = post(&app, Some(&profile_only), "{ todo(id: \"x\") { id } me { id } }").await;
    assert_eq!((status, challenge), (200, None), "{body}");
    assert_eq!(body["data"]["me"]["id"], json!(user.id), "{body}");
    assert_eq!(body["data"]["todo"], Value::Null, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["path"], json!(["todo"]), "{body}");
    assert_eq!(error["extensions"]["code"], "FORBIDDEN");
    assert_eq!(error["extensions"]["requiredScopes"], json!([["todos:read"]]));
    assert!(
        error["message"].as_str().is_some_and(|m| m.contains("todos:read")),
        "the message names the scope: {error}"
    );
}

#[tokio::test]
async fn a_nested_field_refused_for_scope_names_its_own_requirement_and_keeps_the_200() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let profile_only = scoped_jwt(&user, &["profile:read"]);
    let (status, _, body) = post(&app, Some(&profile_only), "{ me { email todos { totalCount } } }").await;
    assert_eq!(status, 200, "a root field that was not itself refused for scope: {body}");
    assert_eq!(body["errors"][0]["path"], json!(["me", "todos"]), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["requiredScopes"], json!([["todos:read"]]), "{body}");
    // A todo token reads its todos, and a todo's owner only with profile:read.
    let todos_only = scoped_jwt(&user, &["todos:read"]);
    app.create_todo(&user, "mine").await;
    let (status, _, body) = post(&app, Some(&todos_only), "{ todos { nodes { title owner { email } } } }").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["todos", "nodes", 0, "owner", "email"]), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["requiredScopes"], json!([["profile:read"]]), "{body}");
}

#[tokio::test]
async fn every_root_field_refused_through_aliases_and_fragments_is_a_403_naming_the_scopes() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let nothing = scoped_jwt(&user, &[]);
    let query = "query { a: todos { totalCount } ...F } fragment F on Query { b: me { id } }";
    let (status, challenge, body) = post(&app, Some(&nothing), query).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(challenge.as_deref(), Some("Bearer error=\"insufficient_scope\", scope=\"todos:read profile:read\""));
    assert_eq!(error_code(&body), "FORBIDDEN");
    // The body is still a GraphQL response: the refusals, each with its requirement.
    let mut paths: Vec<String> =
        body["errors"].as_array().expect("errors").iter().map(|e| e["path"][0].to_string()).collect();
    paths.sort();
    assert_eq!(paths, ["\"a\"", "\"b\""], "{body}");
}

#[tokio::test]
async fn anonymous_callers_are_unauthenticated_not_refused_for_scope_and_public_fields_need_no_scope() {
    let app = TestApp::spawn().await;
    let (status, challenge, body) = post(&app, None, "{ todos { totalCount } }").await;
    assert_eq!((status, challenge.as_deref()), (200, None), "{body}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let user = app.sign_up().await;
    let nothing = scoped_jwt(&user, &[]);
    let (status, _, body) = post(&app, Some(&nothing), "mutation { signOut(refreshToken: \"x\") }").await;
    assert_eq!((status, &body["data"]["signOut"]), (200, &json!(true)), "{body}");
}

#[tokio::test]
async fn a_session_token_carries_every_scope_in_its_scope_claim() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let payload = user.token.split('.').nth(1).expect("a JWT");
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64"))
            .expect("JSON claims");
    assert_eq!(claims["scope"], "todos:read todos:write profile:read", "{claims}");
    // A signed-in request may read its own user right away, token or not.
    let query = "mutation($e: String!, $p: String!) { signIn(input: { email: $e, password: $p }) { user { email todos { totalCount } } } }";
    let body = app.anonymous(query, json!({ "e": user.email, "p": crate::helpers::PASSWORD })).await;
    assert_eq!(body["data"]["signIn"]["user"]["email"], json!(user.email), "{body}");
}
