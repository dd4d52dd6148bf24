//! Personal access tokens over HTTP: created from a session and shown once, stored only as a
//! hash, listed without their secret, authenticating as their user with exactly their scopes,
//! revoked at once, expiring, bounded.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::support::{CREATE, LIST, pat, revoke, with_token};
use crate::helpers::{TestApp, TestUser, error_code};

/// Runs `sql` on `app`'s database; returns the rows' first column as text.
async fn sql(app: &TestApp, sql: &str) -> Vec<String> {
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.expect("connect");
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("query");
    db.close().await.ok();
    rows.iter().map(|row| row.try_get_by_index::<String>(0).expect("text")).collect()
}

async fn create(app: &TestApp, user: &TestUser, input: Value) -> Value {
    app.as_user(user, CREATE, json!({ "i": input })).await
}

#[tokio::test]
async fn a_token_is_shown_once_stored_as_a_hash_and_listed_without_its_secret() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let body =
        create(&app, &user, json!({ "name": " dashboard ", "scopes": ["todos:read"], "expiresInDays": 30 })).await;
    let created = &body["data"]["createAccessToken"];
    let token = created["token"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert!(token.starts_with("todoql_pat_") && token.len() == "todoql_pat_".len() + 43, "256 random bits: {token}");
    let details = &created["accessToken"];
    assert_eq!(
        (&details["name"], &details["scopes"], &details["lastUsedAt"]),
        (&json!("dashboard"), &json!(["todos:read"]), &Value::Null)
    );
    let (made, expires) = (instant(&details["createdAt"]), instant(&details["expiresAt"]));
    assert_eq!((expires - made).num_days(), 30, "{details}");

    // Only the hash is stored.
    let hash: String = Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sql(&app, "SELECT token_hash FROM access_tokens").await, [hash]);
    let row = sql(&app, "SELECT id || name || scopes || token_hash || user_id FROM access_tokens").await;
    assert!(!row[0].contains(token.trim_start_matches("todoql_pat_")), "the secret is nowhere in the row");

    // Listed, never with the secret; another user sees none of it.
    let list = app.as_user(&user, LIST, json!({})).await;
    assert_eq!(list["data"]["accessTokens"][0]["id"], details["id"], "{list}");
    assert!(!list.to_string().contains(token), "{list}");
    let stranger = app.sign_up().await;
    assert_eq!(app.as_user(&stranger, LIST, json!({})).await["data"]["accessTokens"], json!([]));
    assert!(!revoke(&app, &stranger, details["id"].as_str().expect("id")).await, "not the stranger's to revoke");
}

#[tokio::test]
async fn a_token_authenticates_as_its_user_with_exactly_its_scopes_and_notes_its_last_use() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let todo = app.create_todo(&user, "read me").await;
    let (id, token) = pat(&app, &user, &["todos:read"]).await;
    let reader = with_token(&user, &token);
    let body = app.as_user(&reader, "{ todos { nodes { id title } } }", json!({})).await;
    assert_eq!(body["data"]["todos"]["nodes"], json!([{ "id": todo, "title": "read me" }]), "{body}");
    let (status, body) =
        app.post(Some(&token), "mutation { createTodo(input: { title: \"no\" }) { id } }", json!({})).await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{body}");
    // Its use is noted, off the request's path: wait for it (bounded).
    let mut last_used = Value::Null;
    for _ in 0..50 {
        let list = app.as_user(&user, super::support::LIST, json!({})).await;
        last_used = list["data"]["accessTokens"]
            .as_array()
            .expect("list")
            .iter()
            .find(|t| t["id"] == id.as_str())
            .expect("listed")["lastUsedAt"]
            .clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(last_used.is_string(), "lastUsedAt is set once the token was used");
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_and_cannot_manage_tokens_itself() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let (id, token) = pat(&app, &user, &["todos:read", "todos:write", "profile:read"]).await;
    let holder = with_token(&user, &token);
    // Even with every scope, a personal access token is not a session.
    for query in [
        LIST,
        "mutation { revokeAccessToken(id: \"x\") }",
        "mutation { createAccessToken(input: { name: \"n\", scopes: [\"todos:read\"], expiresInDays: 1 }) { token } }",
    ] {
        let body = app.as_user(&holder, query, json!({})).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{query}: {body}");
        assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("session")), "{body}");
    }
    assert!(app.as_user(&holder, "{ me { id } }", json!({})).await["errors"].is_null());
    assert!(revoke(&app, &user, &id).await);
    assert!(!revoke(&app, &user, &id).await, "revoking twice: nothing left to revoke");
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn creation_checks_its_inputs_and_every_token_expires_within_a_year() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let cases = [
        (json!({ "name": "n", "scopes": ["todos:read"], "expiresInDays": 0 }), Some("expiresInDays")),
        (json!({ "name": "n", "scopes": ["todos:read"], "expiresInDays": 366 }), Some("expiresInDays")),
        (json!({ "name": "n", "scopes": [], "expiresInDays": 1 }), Some("scopes")),
        (json!({ "name": "  ", "scopes": ["todos:read"], "expiresInDays": 1 }), Some("name")),
        (json!({ "name": "n", "scopes": ["todos:delete"], "expiresInDays": 1 }), None),
    ];
    for (input, field) in cases {
        let body = create(&app, &user, input.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
        if let Some(field) = field {
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
    }
    let body = create(&app, &user, json!({ "name": "n", "scopes": ["todos:read"], "expiresInDays": 365 })).await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let (id, token) = pat(&app, &user, &["profile:read"]).await;
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.expect("connect");
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => "UPDATE access_tokens SET expires_at = 1 WHERE id = $1",
        _ => "UPDATE access_tokens SET expires_at = 1 WHERE id = ?",
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, [id.into()])).await.expect("expire it");
    db.close().await.ok();
    let (status, body) = app.post(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!((status, error_code(&body)), (401, "UNAUTHENTICATED"), "{body}");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("expired")), "{body}");
}

#[tokio::test]
async fn a_user_holds_at_most_a_hundred_tokens() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    for _ in 0..100 {
        pat(&app, &user, &["todos:read"]).await;
    }
    let body =
        create(&app, &user, json!({ "name": "one too many", "scopes": ["todos:read"], "expiresInDays": 1 })).await;
    assert_eq!(error_code(&body), "ACCESS_TOKEN_LIMIT_REACHED", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["limit"], 100);
}

fn instant(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().expect("a time")).expect("RFC 3339")
}
