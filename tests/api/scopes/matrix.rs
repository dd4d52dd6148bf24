//! The scope matrix: every root query and mutation, run with a token holding each set of
//! scopes (a todoql JWT with that `scope` claim, and a personal access token with those
//! scopes), is allowed or refused exactly as its `@requiresScopes` declares. Subscriptions:
//! `subscriptions::tokens`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::support::{as_json, declarations, pat, schema, scoped_jwt, subsets};
use crate::helpers::{PASSWORD, TestApp, TestUser};

/// The root fields that only a session may use, whatever a personal access token's scopes.
const SESSION_ONLY: [&str; 3] = ["accessTokens", "createAccessToken", "revokeAccessToken"];

/// One operation per root field: the field and a selection that needs no more than it does.
fn operations(user: &TestUser, todo: &str) -> Vec<(&'static str, &'static str, String, Value)> {
    let v = json!({ "id": todo, "e": user.email, "p": PASSWORD });
    vec![
        ("Query", "me", "{ me { id } }".into(), json!({})),
        ("Query", "todo", "query($id: ID!) { todo(id: $id) { id } }".into(), v.clone()),
        ("Query", "todos", "{ todos { totalCount } }".into(), json!({})),
        ("Query", "accessTokens", "{ accessTokens { id } }".into(), json!({})),
        ("Mutation", "signUp", "mutation($e: String!, $p: String!) { signUp(input: { email: $e, password: $p, name: \"Taken\" }) { tokenType } }".into(), v.clone()),
        ("Mutation", "signIn", "mutation($e: String!, $p: String!) { signIn(input: { email: $e, password: $p }) { tokenType } }".into(), v.clone()),
        ("Mutation", "refreshSession", "mutation { refreshSession(refreshToken: \"not a token\") { tokenType } }".into(), json!({})),
        ("Mutation", "signOut", "mutation { signOut(refreshToken: \"not a token\") }".into(), json!({})),
        ("Mutation", "createTodo", "mutation { createTodo(input: { title: \"from the matrix\" }) { id } }".into(), json!({})),
        ("Mutation", "updateTodo", "mutation($id: ID!) { updateTodo(id: $id, input: { title: \"renamed\" }) { id } }".into(), v.clone()),
        ("Mutation", "toggleTodo", "mutation($id: ID!) { toggleTodo(id: $id) { id } }".into(), v.clone()),
        ("Mutation", "deleteTodo", "mutation { deleteTodo(id: \"missing\") }".into(), json!({})),
        ("Mutation", "createAccessToken", "mutation { createAccessToken(input: { name: \"m\", scopes: [\"todos:read\"], expiresInDays: 1 }) { token } }".into(), json!({})),
        ("Mutation", "revokeAccessToken", "mutation { revokeAccessToken(id: \"missing\") }".into(), json!({})),
    ]
}

/// POSTs `query` with `token`: status, `WWW-Authenticate`, body.
async fn run(app: &TestApp, token: &str, query: &str, variables: &Value) -> (u16, Option<String>, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().expect("ASCII").to_owned());
    (status, challenge, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn every_root_operation_is_allowed_or_refused_as_declared_for_every_set_of_scopes() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let todo = app.create_todo(&user, "the matrix's todo").await;
    let declared = declarations(&schema());

    // The matrix covers every root query and mutation the schema has.
    let ops = operations(&user, &todo);
    let covered: BTreeSet<(String, String)> = ops.iter().map(|(t, f, ..)| (t.to_string(), f.to_string())).collect();
    let roots: BTreeSet<(String, String)> =
        declared.keys().filter(|(t, _)| t == "Query" || t == "Mutation").cloned().collect();
    assert_eq!(covered, roots, "the matrix must run every root query and mutation");

    let mut credentials = Vec::new();
    for scopes in subsets() {
        credentials.push((format!("a JWT with scope {scopes:?}"), scoped_jwt(&user, &scopes), scopes.clone(), true));
        if !scopes.is_empty() {
            let (_, token) = pat(&app, &user, &scopes).await;
            credentials.push((format!("a personal access token with {scopes:?}"), token, scopes, false));
        }
    }
    assert_eq!(credentials.len(), 15);

    let mut checked = 0;
    for (ty, field, query, variables) in &ops {
        let requirement = &declared[&(ty.to_string(), field.to_string())];
        for (label, token, scopes, session) in &credentials {
            let (status, challenge, body) = run(&app, token, query, variables).await;
            let error = body["errors"].as_array().and_then(|errors| errors.iter().find(|e| e["path"][0] == *field));
            let code = error.map(|e| e["extensions"]["code"].as_str().unwrap_or_default());
            let context = format!("{field} with {label}: {status} {body}");
            if !session && SESSION_ONLY.contains(field) {
                assert_eq!(code, Some("FORBIDDEN"), "a personal access token may not use {context}");
                assert!(error.is_some_and(|e| e["extensions"]["requiredScopes"].is_null()), "{context}");
                assert_eq!(status, 200, "{context}");
            } else if super::support::allows(requirement, scopes) {
                assert!(!matches!(code, Some("FORBIDDEN" | "UNAUTHENTICATED")), "allowed: {context}");
                assert_eq!(status, 200, "{context}");
            } else {
                assert_eq!(code, Some("FORBIDDEN"), "refused for scope: {context}");
                let error = error.expect("an error");
                assert_eq!(error["extensions"]["requiredScopes"], as_json(requirement), "{context}");
                assert_eq!(status, 403, "every root field refused for scope: {context}");
                let wanted = format!("Bearer error=\"insufficient_scope\", scope=\"{}\"", requirement[0].join(" "));
                assert_eq!(challenge.as_deref(), Some(wanted.as_str()), "{context}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 14 * 15);
}
